"""Platform plumbing every service shares: settings, the HTTP edge and API keys, the
broker (bus, consumer frame, publisher, control notices), storage, metrics and logs."""
