# Sourced: exports WXP_MASTER_KEY and WXP_ADMIN_KEY, generated once into var/secrets.env
# for the local stack unless the environment already sets them.
_secrets="$VAR/secrets.env"
if [ ! -f "$_secrets" ]; then
  mkdir -p "$VAR"
  umask 077
  {
    echo "WXP_MASTER_KEY=$(head -c 32 /dev/urandom | base64)"
    echo "WXP_ADMIN_KEY=wxpadm_$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
  } >"$_secrets"
fi
while read -r _line; do
  _name=${_line%%=*}
  [ -n "${!_name:-}" ] || export "$_name=${_line#*=}"
done <"$_secrets"
