"""Playing the WeChat server: build a signed (and in safe mode encrypted) webhook
request for any message or event, and open the gateway's answer.

Used by ``wxp simulate``, the tests and the benchmark, so all three exercise the
same code path. Messages are built from :data:`SAMPLES`, one per documented type.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from defusedxml.ElementTree import fromstring

from shared.wechat_crypto import MessageCrypto, signature, signature_matches

# Fields of one sample per message type (MsgType) and per event (Event), as WeChat sends them.
SAMPLES: dict[str, dict[str, Any]] = {
    "text": {"Content": "hello"},
    "image": {"PicUrl": "http://mmbiz.example/pic.jpg", "MediaId": "media_image_1"},
    "voice": {"MediaId": "media_voice_1", "Format": "amr", "Recognition": "你好"},
    "video": {"MediaId": "media_video_1", "ThumbMediaId": "thumb_1"},
    "shortvideo": {"MediaId": "media_sv_1", "ThumbMediaId": "thumb_2"},
    "location": {
        "Location_X": "23.134521",
        "Location_Y": "113.358803",
        "Scale": "20",
        "Label": "广州市天河区",
    },
    "link": {"Title": "A link", "Description": "About it", "Url": "http://example.org/a"},
    "event:subscribe": {"EventKey": ""},
    "event:subscribe_qrscene": {
        "Event": "subscribe",
        "EventKey": "qrscene_42",
        "Ticket": "TICKET42",
    },
    "event:unsubscribe": {"EventKey": ""},
    "event:SCAN": {"EventKey": "42", "Ticket": "TICKET42"},
    "event:LOCATION": {
        "Latitude": "23.137466",
        "Longitude": "113.352425",
        "Precision": "119.385040",
    },
    "event:CLICK": {"EventKey": "MENU_NEWS"},
    "event:VIEW": {"EventKey": "http://example.org/menu", "MenuId": "101"},
    "event:scancode_push": {
        "EventKey": "scan1",
        "ScanCodeInfo": {"ScanType": "qrcode", "ScanResult": "1"},
    },
    "event:scancode_waitmsg": {
        "EventKey": "scan2",
        "ScanCodeInfo": {"ScanType": "qrcode", "ScanResult": "2"},
    },
    "event:pic_sysphoto": {
        "EventKey": "pic1",
        "SendPicsInfo": {
            "Count": "1",
            "PicList": [{"PicMd5Sum": "1b5f7c23b5bf75682a53e7b6d163e185"}],
        },
    },
    "event:pic_photo_or_album": {
        "EventKey": "pic2",
        "SendPicsInfo": {
            "Count": "1",
            "PicList": [{"PicMd5Sum": "5a75aaca956d97be686719218f275c6b"}],
        },
    },
    "event:pic_weixin": {
        "EventKey": "pic3",
        "SendPicsInfo": {"Count": "2", "PicList": [{"PicMd5Sum": "aa"}, {"PicMd5Sum": "bb"}]},
    },
    "event:location_select": {
        "EventKey": "loc1",
        "SendLocationInfo": {
            "Location_X": "23",
            "Location_Y": "113",
            "Scale": "15",
            "Label": "广州",
            "Poiname": "",
        },
    },
    "event:view_miniprogram": {"EventKey": "pages/index/index", "MenuId": "102"},
    "event:MASSSENDJOBFINISH": {
        "MsgID": "1000001625",
        "Status": "send success",
        "TotalCount": "100",
        "FilterCount": "80",
        "SentCount": "75",
        "ErrorCount": "5",
    },
    "event:TEMPLATESENDJOBFINISH": {"MsgID": "200163836", "Status": "success"},
}


def _element(name: str, value: Any) -> str:
    if isinstance(value, dict):
        return f"<{name}>{''.join(_element(k, v) for k, v in value.items())}</{name}>"
    if isinstance(value, list):
        return f"<{name}>{''.join(_element('item', v) for v in value)}</{name}>"
    text = str(value)
    if text.isdigit():
        return f"<{name}>{text}</{name}>"
    return f"<{name}><![CDATA[{text.replace(']]>', ']]]]><![CDATA[>')}]]></{name}>"


def build_xml(
    sample: str,
    *,
    openid: str,
    account: str,
    create_time: int,
    msg_id: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> bytes:
    """WeChat's XML for one of :data:`SAMPLES` (``text``, ``event:CLICK``, ...)."""
    fields = dict(SAMPLES[sample])
    fields.update(overrides or {})
    header: dict[str, Any] = {
        "ToUserName": account,
        "FromUserName": openid,
        "CreateTime": str(create_time),
    }
    if sample.startswith("event:"):
        header["MsgType"] = "event"
        header["Event"] = fields.pop("Event", sample.removeprefix("event:"))
    else:
        header["MsgType"] = sample
        header["MsgId"] = msg_id or str(create_time * 1000 + int.from_bytes(os.urandom(2)))
    body = "".join(_element(k, v) for k, v in {**header, **fields}.items())
    return f"<xml>{body}</xml>".encode()


@dataclass(frozen=True, slots=True)
class Account:
    """What WeChat knows of an account: enough to sign and encrypt for it."""

    tenant_id: str
    appid: str
    token: str
    encoding_aes_key: str
    encrypt_mode: str  # plain | compatible | safe


@dataclass(frozen=True, slots=True)
class SignedRequest:
    query: dict[str, str]
    body: bytes
    encrypted: bool


def sign_request(
    account: Account,
    xml: bytes,
    *,
    openid: str,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> SignedRequest:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or os.urandom(6).hex()
    query = {
        "signature": signature(account.token, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "openid": openid,
    }
    if account.encrypt_mode == "plain":
        return SignedRequest(query=query, body=xml, encrypted=False)
    encrypted = MessageCrypto(account.encoding_aes_key, account.appid).encrypt(xml)
    query.update(encrypt_type="aes", msg_signature=signature(account.token, ts, nonce, encrypted))
    to_user = fromstring(xml).findtext("ToUserName") or ""
    inner = xml.decode().removeprefix("<xml>").removesuffix("</xml>")
    # Compatible mode carries the plaintext beside the ciphertext; safe mode only the latter.
    extra = (
        inner
        if account.encrypt_mode == "compatible"
        else f"<ToUserName><![CDATA[{escape(to_user)}]]></ToUserName>"
    )
    body = f"<xml>{extra}<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
    return SignedRequest(query=query, body=body, encrypted=True)


class ReplyCheckError(ValueError):
    """The gateway's answer is not what WeChat would accept."""


def open_reply(account: Account, body: bytes, *, encrypted: bool) -> bytes:
    """The plaintext XML of a passive reply (``b"success"`` and ``b""`` pass through)."""
    if body in (b"success", b"") or not encrypted:
        return body
    outer = fromstring(body)
    fields = {
        name: outer.findtext(name) or ""
        for name in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce")
    }
    if not signature_matches(
        fields["MsgSignature"],
        account.token,
        fields["TimeStamp"],
        fields["Nonce"],
        fields["Encrypt"],
    ):
        raise ReplyCheckError("reply MsgSignature does not verify")
    return MessageCrypto(account.encoding_aes_key, account.appid).decrypt(fields["Encrypt"])
