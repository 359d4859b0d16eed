"""What the services agree on: the envelope and its typed payloads, the reply spec,
the broker's names, and tenancy rules. Defined once, encoded and decoded here."""
