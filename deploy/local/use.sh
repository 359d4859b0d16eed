# source deploy/local/use.sh: settings for the wxp CLI against the local stack.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$(dirname "${BASH_SOURCE[0]}")/secrets.sh"
export WXP_URL="${WXP_URL:-http://127.0.0.1:${GATEWAY_PORT:-8080}}"
export PATH="$VENV/bin:$PATH"
