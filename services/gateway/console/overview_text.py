"""The overview page's words: message id -> (zh, en)."""

from __future__ import annotations

from services.gateway.console.i18n import Text

TEXT: Text = {
    "overview.title": ("全部公众号", "All accounts"),
    "overview.lead": (
        "按健康状况排列，最需要关注的在前。",
        "Ordered by health: the accounts that need attention first.",
    ),
    "overview.caption": ("公众号健康状况", "Accounts by health"),
    "overview.account": ("公众号", "Account"),
    "overview.followers": ("已知粉丝", "Known followers"),
    "overview.new_7d": ("7 日新增", "New (7 days)"),
    "overview.lost_7d": ("7 日流失", "Lost (7 days)"),
    "overview.active_rate": ("30 日活跃率", "Active rate (30 days)"),
    "overview.status": ("状态", "Status"),
    "overview.pages": ("页面", "Pages"),
    "overview.status.dormant": ("沉寂", "Dormant"),
    "overview.status.declining": ("下滑", "Declining"),
    "overview.status.no_data": ("暂无数据", "No data"),
    "overview.status.active": ("活跃", "Active"),
    "overview.empty": ("还没有接入任何公众号。", "No accounts yet."),
    "overview.add": ("接入第一个公众号", "Add the first account"),
    "overview.pick": ("打开", "Open"),
    "overview.count": ("个公众号", "accounts"),
}
