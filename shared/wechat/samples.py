"""What WeChat sends: one sample of every documented message type and event, and the
XML WeChat would post for it (what the gateway parses, before any signing or encryption).

Used by ``wxp simulate``, the tests and the benchmark, so all three send the same
messages; :mod:`shared.wechat.simulator` signs and encrypts them.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

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
        header["MsgId"] = msg_id or _msg_id(create_time)
    body = "".join(_element(k, v) for k, v in {**header, **fields}.items())
    return f"<xml>{body}</xml>".encode()


# MsgIds this process makes up: a serial from a random start, so that no two messages of one
# second share one here (16 random bits did: 52 texts sent within a second or two collided
# about once in fifty runs, and the gateway took the second for WeChat's retry of the first)
# and two processes' seldom do.
_SERIAL = itertools.count(int.from_bytes(os.urandom(3)))


def _msg_id(create_time: int) -> str:
    return str(create_time * 1_000_000 + next(_SERIAL) % 1_000_000)
