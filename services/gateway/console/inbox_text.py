"""The inbox page's words: message id -> (zh, en)."""

from __future__ import annotations

from services.gateway.console.i18n import Text

TEXT: Text = {
    "inbox.title": ("消息", "Inbox"),
    "inbox.help": (
        "读者发来、没有自动回复规则答复的消息，最新的在前。"
        "微信只允许在读者发消息后 48 小时内回复。",
        "Readers' messages no rule answered, newest first. WeChat allows a reply only "
        "within 48 hours of the reader's message.",
    ),
    "inbox.filter": ("按状态筛选", "Filter by status"),
    "inbox.filter.open": ("待处理", "Open"),
    "inbox.filter.answered": ("已回复", "Answered"),
    "inbox.filter.closed": ("已关闭", "Closed"),
    "inbox.filter.all": ("全部", "All"),
    "inbox.pages": ("翻页", "Pages"),
    "inbox.older": ("更早的消息 →", "Older messages →"),
    "inbox.newest": ("← 最新的消息", "← Newest messages"),
    "inbox.status_label": ("状态", "Status"),
    "inbox.status.open": ("待处理", "open"),
    "inbox.status.replying": ("回复中", "replying"),
    "inbox.status.answered": ("已回复", "answered"),
    "inbox.status.closed": ("已关闭", "closed"),
    "inbox.status.failed": ("发送结果未知", "delivery unknown"),
    "inbox.from": ("读者", "Reader"),
    "inbox.received": ("收到", "Received"),
    "inbox.window": ("回复窗口剩余", "Window left"),
    "inbox.window_left": ("%d小时%02d分", "%dh%02dm"),
    "inbox.window_closed": ("窗口已关闭", "window closed"),
    "inbox.answered_by": ("回复人", "Answered by"),
    "inbox.closed_by": ("关闭人", "Closed by"),
    "inbox.reply_sent": ("回复内容", "Reply"),
    "inbox.note": ("备注", "Note"),
    "inbox.reply": ("回复内容（文字）", "Reply (text)"),
    "inbox.note_optional": ("备注（可选，仅内部可见）", "Note (optional, for your team)"),
    "inbox.send": ("发送回复", "Send reply"),
    "inbox.close": ("关闭", "Close"),
    "inbox.close_note": ("关闭备注（可选）", "Closing note (optional)"),
    "inbox.notice.answered": ("回复已发送。", "Reply sent."),
    "inbox.notice.closed": ("消息已关闭。", "Message closed."),
    "inbox.refused": ("未完成：", "Not done: "),
    "inbox.code.not_open": ("该消息已处理，不能再回复。", "This message was already dealt with."),
    "inbox.code.busy": ("另一位同事正在回复该消息。", "Someone else is answering it right now."),
    "inbox.code.window_closed": (
        "48 小时回复窗口已关闭。",
        "WeChat's 48-hour window has closed.",
    ),
    "inbox.code.quota_exhausted": (
        "今日客服消息额度已用完。",
        "Today's customer-service message quota is used up.",
    ),
    "inbox.code.wechat_refused": ("微信拒绝了这条回复。", "WeChat refused the reply."),
    "inbox.code.wechat_unavailable": (
        "微信暂时不可用，未发送，请稍后重试。",
        "WeChat is unavailable; nothing was sent, try again shortly.",
    ),
    "inbox.code.delivery_unknown": (
        "微信没有确认，消息可能已送达，不会重发。",
        "WeChat did not confirm; the reply may have arrived and will not be sent again.",
    ),
}
