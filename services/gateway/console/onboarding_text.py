"""The onboarding wizard's words: message id -> (zh, en)."""

from __future__ import annotations

from services.gateway.console.i18n import Text

TEXT: Text = {
    "onboarding.title": ("接入公众号", "Add an account"),
    "onboarding.lead": (
        "填写公众号在微信公众平台「设置与开发 → 基本配置」中的信息。"
        "提交后，本页会显示一次服务器配置所需的 URL、Token 和 EncodingAESKey。",
        "Enter the account's details from WeChat's console (设置与开发 → 基本配置). "
        "Once added, this page shows the URL, Token and EncodingAESKey for its server "
        "configuration, once.",
    ),
    "onboarding.name": ("名称", "Name"),
    "onboarding.name.hint": (
        "代理商内部使用的名称，最多 100 个字。",
        "Your name for it, up to 100 characters.",
    ),
    "onboarding.appid": ("AppID（开发者ID）", "AppID"),
    "onboarding.appid.hint": (
        "以 wx 开头，后跟 16 位字母或数字。",
        "wx followed by 16 letters or digits.",
    ),
    "onboarding.app_secret": ("AppSecret（开发者密码）", "AppSecret"),
    "onboarding.app_secret.hint": (
        "加密保存，之后不再显示。",
        "Stored encrypted; never shown again.",
    ),
    "onboarding.account_type": ("账号类型", "Account type"),
    "onboarding.account_type.hint": (
        "与公众平台「设置与开发 → 账号设置」中显示的类型一致。",
        "As WeChat's console shows it under 账号设置 (Account settings).",
    ),
    "onboarding.type.service": ("服务号", "Service account"),
    "onboarding.type.subscription": ("订阅号", "Subscription account"),
    "onboarding.encrypt_mode": ("消息加解密方式", "Message encryption"),
    "onboarding.encrypt_mode.hint": (
        "须与微信公众平台中「消息加解密方式」的选择一致；推荐安全模式。",
        "Must match the choice made in WeChat's console; safe mode is advised.",
    ),
    "onboarding.mode.safe": ("安全模式（推荐）", "Safe mode (安全模式, advised)"),
    "onboarding.mode.compatible": ("兼容模式", "Compatible mode (兼容模式)"),
    "onboarding.mode.plain": ("明文模式", "Plain mode (明文模式)"),
    "onboarding.timezone": ("时区", "Timezone"),
    "onboarding.timezone.hint": (
        "IANA 时区名，用于群发时间和数据统计，例如 Asia/Shanghai。",
        "An IANA name, for broadcast times and charts, such as Asia/Shanghai.",
    ),
    "onboarding.submit": ("接入", "Add the account"),
    "onboarding.refused": ("未能接入：", "Not added: "),
    "onboarding.error.name": (
        "请填写名称（最多 100 个字）。",
        "Enter a name (up to 100 characters).",
    ),
    "onboarding.error.appid": (
        "AppID 无效：应以 wx 开头，后跟 16 位字母或数字。",
        "That AppID is not valid: wx followed by 16 letters or digits.",
    ),
    "onboarding.error.appid_taken": ("该 AppID 已经接入。", "That AppID is already added."),
    "onboarding.error.app_secret": (
        "请填写 AppSecret（最多 128 个字符）。",
        "Enter the AppSecret (up to 128 characters).",
    ),
    "onboarding.error.account_type": ("请选择账号类型。", "Choose the account type."),
    "onboarding.error.encrypt_mode": ("请选择消息加解密方式。", "Choose the message encryption."),
    "onboarding.error.timezone": ("未知的时区。", "Unknown timezone."),
    "onboarding.done": ("已接入：", "Added: "),
    "onboarding.once": (
        "Token 和 EncodingAESKey 只显示这一次，请现在复制并填入微信公众平台。"
        "离开本页后将无法再次查看。",
        "The Token and EncodingAESKey are shown this once: copy them into WeChat's console "
        "now. They cannot be shown again after you leave this page.",
    ),
    "onboarding.secrets": ("服务器配置", "Server configuration"),
    "onboarding.url": ("服务器地址 (URL)", "Server URL"),
    "onboarding.copy": ("复制", "Copy"),
    "onboarding.copied": ("已复制", "Copied"),
    "onboarding.steps": ("在微信公众平台中填写", "Paste them into WeChat's console"),
    "onboarding.step.login": (
        "用管理员微信扫码登录 mp.weixin.qq.com。",
        "Sign in to mp.weixin.qq.com by scanning with the administrator's WeChat.",
    ),
    "onboarding.step.open": (
        "在左侧菜单打开「设置与开发 → 基本配置」，在「服务器配置」处点击「修改配置」。",
        "In the left menu open 设置与开发 (Settings & development) → 基本配置 (Basic "
        "configuration); under 服务器配置 (Server configuration) click 修改配置 (Modify).",
    ),
    "onboarding.step.url": (
        "把上面的服务器地址填入「URL」。",
        "Paste the server URL above into URL.",
    ),
    "onboarding.step.token": ("把 Token 填入「Token」。", "Paste the Token into Token."),
    "onboarding.step.aes": (
        "把 EncodingAESKey 填入「EncodingAESKey」（不要点「随机生成」）。",
        "Paste the EncodingAESKey into EncodingAESKey (do not click 随机生成, Generate).",
    ),
    "onboarding.step.mode": ("「消息加解密方式」选择：", "For 消息加解密方式 (encryption) choose:"),
    "onboarding.step.submit": (
        "点击「提交」：微信会立即向服务器地址发送验证请求，验证通过后保存。",
        "Click 提交 (Submit): WeChat checks the URL at once and saves when it verifies.",
    ),
    "onboarding.step.enable": (
        "回到「服务器配置」，点击「启用」。",
        "Back under 服务器配置, click 启用 (Enable).",
    ),
    "onboarding.step.whitelist": (
        "在「基本配置 → IP白名单」中加入本平台服务器的出口 IP，以便群发和客服消息调用微信接口。",
        "Under 基本配置 → IP白名单 (IP whitelist) add this platform's outgoing IP, so that "
        "broadcasts and customer-service messages can call WeChat's API.",
    ),
    "onboarding.test": ("测试连接", "Test the connection"),
    "onboarding.test.lead": (
        "点击「提交」后，微信发来的第一个通过验证的请求会显示在这里。",
        "Once you click 提交, the first verified request from WeChat shows here.",
    ),
    "onboarding.waiting": (
        "正在等待第一个通过验证的 webhook…",
        "Waiting for the first verified webhook…",
    ),
    "onboarding.connected": ("已连接，时间：", "Connected at "),
    "onboarding.next": ("查看该公众号的数据", "See this account's charts"),
    "onboarding.connect.title": ("连接状态", "Connection"),
    "onboarding.connect.lead": (
        "Token 和 EncodingAESKey 只在接入时显示一次。如需新的，请用 wxp tenants update 重新生成。",
        "The Token and EncodingAESKey were shown once, when the account was added. For new "
        "ones, regenerate them with wxp tenants update.",
    ),
}
