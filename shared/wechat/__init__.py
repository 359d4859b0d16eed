"""The WeChat HTTP API: typed errors, retries, one shared access token per account.

Wiring (in a service's composition root)::

    http = WeChatHttp(session, base_url=settings.wechat_api_base, metrics=wechat_metrics)
    tokens = TokenService(mongo[CONTROL_DB], box, fetch=http.fetch_token,
                          secret_for=tenants.app_secret, metrics=wechat_metrics)
    client = WeChatClient(http, tokens)
"""
