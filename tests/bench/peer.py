"""The bench's anchor: what a user would write instead of wxp.

One aiohttp + uvloop process that, inline in its handler and with wechatpy, checks the
signatures, decrypts, parses and answers a text message with an encrypted text reply
(anything else with ``success``): no queue, no database, no dedup.

``python -m tests.bench.peer --port N --token T --aes-key K --appid A`` serves
``POST /wx/{tenant_id}`` and ``GET /readyz`` until SIGTERM.
"""

from __future__ import annotations

import argparse

import uvloop
from aiohttp import web
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

CRYPTO = web.AppKey("crypto", WeChatCrypto)
TOKEN = web.AppKey("token", str)


async def receive(request: web.Request) -> web.Response:
    query, crypto = request.query, request.app[CRYPTO]
    try:
        timestamp, nonce = query["timestamp"], query["nonce"]
        check_signature(request.app[TOKEN], query["signature"], timestamp, nonce)
        xml = crypto.decrypt_message(await request.read(), query["msg_signature"], timestamp, nonce)
    except (KeyError, InvalidSignatureException, InvalidAppIdException):
        return web.Response(status=403, text="forbidden")
    message = parse_message(xml)
    if message.type != "text":
        return web.Response(text="success")
    reply = TextReply(content=f"you said: {message.content}", message=message)
    answer = crypto.encrypt_message(reply.render(), nonce, timestamp)
    return web.Response(text=answer, content_type="application/xml")


async def ready(_: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app(token: str, aes_key: str, appid: str) -> web.Application:
    app = web.Application()
    app[CRYPTO] = WeChatCrypto(token, aes_key, appid)
    app[TOKEN] = token
    app.add_routes([web.post("/wx/{tenant_id}", receive), web.get("/readyz", ready)])
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="wechatpy inline: the bench's peer")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--token", required=True)
    parser.add_argument("--aes-key", required=True)
    parser.add_argument("--appid", required=True)
    args = parser.parse_args()
    web.run_app(
        create_app(args.token, args.aes_key, args.appid),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
