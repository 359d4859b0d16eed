"""The charts page's words: message id -> (zh, en)."""

from __future__ import annotations

from services.gateway.console.i18n import Text

TEXT: Text = {
    "charts.title": ("数据", "Charts"),
    "charts.range": ("时间范围", "Range"),
    "charts.days": ("最近 {n} 天", "Last {n} days"),
    "charts.table": ("查看数据表", "Show the figures"),
    "charts.date": ("日期", "Date"),
    "charts.health": ("账号健康度", "Account health"),
    "charts.health.active": ("活跃", "Active"),
    "charts.health.declining": ("下滑", "Declining"),
    "charts.health.dormant": ("沉寂", "Dormant"),
    "charts.health.no_data": ("暂无数据", "No data yet"),
    "charts.health.detail": (
        "近 7 天互动 {now} 次，之前 7 天 {before} 次。最近互动：{last}",
        "{now} interactions in the last 7 days, {before} in the 7 before. Last: {last}",
    ),
    "charts.followers": ("粉丝增减", "Followers gained and lost"),
    "charts.followers.caption": (
        "每天新关注、取消关注与净增人数（按公众号时区）。",
        "New followers, unfollows and the net change each day (in the account's timezone).",
    ),
    "charts.followers.summary": (
        "合计新增 {new}，流失 {lost}，净增 {net}。",
        "In all: {new} new, {lost} lost, {net} net.",
    ),
    "charts.new": ("新增", "New"),
    "charts.lost": ("流失", "Lost"),
    "charts.net": ("净增", "Net"),
    "charts.active": ("活跃度", "Active readers"),
    "charts.active.caption": (
        "有互动（消息、菜单点击等）的读者占已知粉丝的比例，以及每天的活跃读者数。",
        "The share of known followers who interacted (messages, menu clicks…), and the "
        "active readers each day.",
    ),
    "charts.active.rate7": ("7 天活跃率", "7-day active rate"),
    "charts.active.rate30": ("30 天活跃率", "30-day active rate"),
    "charts.active.known": ("已知粉丝", "Known followers"),
    "charts.active.readers": ("活跃读者", "Active readers"),
    "charts.active.summary": (
        "单日活跃读者最多 {peak} 人。",
        "At most {peak} active readers in a day.",
    ),
    "charts.channels": ("渠道增长与留存", "Growth and retention by channel"),
    "charts.channels.caption": (
        "按带参二维码渠道（qrscene_）统计的新增、流失、7 天留存率与 30 天活跃率；无渠道为 other。",
        "New, lost, 7-day retention and 30-day activity by QR channel (qrscene_); "
        "other: no channel.",
    ),
    "charts.channel": ("渠道", "Channel"),
    "charts.retained": ("7 天留存率", "Retained after 7 days"),
    "charts.active30": ("30 天活跃率", "Active in 30 days"),
    "charts.broadcasts": ("群发后的取关", "Unfollows after each broadcast"),
    "charts.broadcasts.caption": (
        "每次群发后 24 小时内的取关人数，与此前 14 天（无群发）的日均取关基线对比。",
        "Unfollows in the 24 hours after each broadcast, against the mean daily unfollows "
        "of the 14 days before (without broadcasts).",
    ),
    "charts.submitted": ("群发时间", "Sent at"),
    "charts.unfollows": ("24 小时取关", "Unfollows in 24 h"),
    "charts.baseline": ("基线", "Baseline"),
    "charts.lift": ("倍数", "Lift"),
    "charts.broadcasts.summary": (
        "共 {n} 次群发。",
        "Broadcasts: {n}.",
    ),
    "charts.sendtime": ("最佳发送时段", "Best hours to send"),
    "charts.sendtime.caption": (
        "近 28 天各星期、各小时的互动次数（按公众号时区 {tz}），颜色越深越多。",
        "Interactions by weekday and hour over the last 28 days (in the account's timezone, "
        "{tz}); darker is busier.",
    ),
    "charts.sendtime.best": ("推荐发送时间：{hour}:00", "Recommended send time: {hour}:00"),
    "charts.sendtime.interactions": (
        "依据近 28 天的 {n} 次互动。",
        "Based on {n} interactions in the last 28 days.",
    ),
    "charts.sendtime.default": (
        "互动不足 50 次（{n} 次），采用默认时间。",
        "Fewer than 50 interactions ({n}): the default hour.",
    ),
    "charts.weekday": ("星期", "Weekday"),
    "charts.hour": ("时", "Hour"),
    "charts.weekdays": ("一,二,三,四,五,六,日", "Mon,Tue,Wed,Thu,Fri,Sat,Sun"),
    "charts.never": ("无", "never"),
}
