"""Real User-Agent headers shared by the user-agent and bot tests.

BROWSERS: (header, browser, version, os, os_version, device, platform).
"""

from __future__ import annotations

CHROME = "Chrome/131.0.0.0"
WEBKIT = "AppleWebKit/537.36 (KHTML, like Gecko)"
IOS_WEBKIT = "AppleWebKit/605.1.15 (KHTML, like Gecko)"

BROWSERS: list[tuple[str, str, str, str, str, str, str]] = [
    # Chrome
    (
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {WEBKIT} {CHROME} Safari/537.36",
        *("Chrome", "131.0", "Windows", "10", "Desktop", "Windows"),
    ),
    (
        f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {WEBKIT} {CHROME} Safari/537.36",
        *("Chrome", "131.0", "macOS", "10.15", "Desktop", "macOS"),
    ),
    (
        f"Mozilla/5.0 (X11; Linux x86_64) {WEBKIT} {CHROME} Safari/537.36",
        *("Chrome", "131.0", "Linux", "", "Desktop", "Linux"),
    ),
    (
        f"Mozilla/5.0 (Linux; Android 10; K) {WEBKIT} {CHROME} Mobile Safari/537.36",
        *("Chrome", "131.0", "Android", "10", "Mobile", "Android"),
    ),
    (
        f"Mozilla/5.0 (Linux; Android 14; SM-X910) {WEBKIT} {CHROME} Safari/537.36",
        *("Chrome", "131.0", "Android", "14", "Tablet", "Android"),
    ),
    (
        f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) {IOS_WEBKIT} "
        "CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
        *("Chrome", "131.0", "iOS", "17.7", "Mobile", "iPhone"),
    ),
    (
        f"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) {WEBKIT} {CHROME} Safari/537.36",
        *("Chrome", "131.0", "Chrome OS", "14541.0", "Desktop", "Linux"),
    ),
    # Firefox
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        *("Firefox", "133.0", "Windows", "10", "Desktop", "Windows"),
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0",
        *("Firefox", "133.0", "macOS", "14.7", "Desktop", "macOS"),
    ),
    (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        *("Firefox", "133.0", "Linux", "", "Desktop", "Linux"),
    ),
    (
        "Mozilla/5.0 (X11; Fedora; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        *("Firefox", "133.0", "Linux", "", "Desktop", "Linux"),
    ),
    (
        "Mozilla/5.0 (Android 15; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
        *("Firefox", "133.0", "Android", "15", "Mobile", "Android"),
    ),
    (
        "Mozilla/5.0 (Android 14; Tablet; rv:133.0) Gecko/133.0 Firefox/133.0",
        *("Firefox", "133.0", "Android", "14", "Tablet", "Android"),
    ),
    (
        f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) {IOS_WEBKIT} "
        "FxiOS/133.0 Mobile/15E148 Safari/605.1.15",
        *("Firefox", "133.0", "iOS", "17.7", "Mobile", "iPhone"),
    ),
    # Safari
    (
        f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {IOS_WEBKIT} "
        "Version/18.1 Safari/605.1.15",
        *("Safari", "18.1", "macOS", "10.15", "Desktop", "macOS"),
    ),
    (
        f"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) {IOS_WEBKIT} "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        *("Safari", "18.1", "iOS", "18.1", "Mobile", "iPhone"),
    ),
    (
        f"Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) {IOS_WEBKIT} "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        *("Safari", "18.1", "iPadOS", "18.1", "Tablet", "iPad"),
    ),
    (
        f"Mozilla/5.0 (iPad; CPU OS 12_5_7 like Mac OS X) {IOS_WEBKIT} "
        "Version/12.1.2 Mobile/15E148 Safari/604.1",
        *("Safari", "12.1", "iOS", "12.5", "Tablet", "iPad"),
    ),
    (
        f"Mozilla/5.0 (iPod touch; CPU iPhone OS 15_7 like Mac OS X) {IOS_WEBKIT} "
        "Version/15.6 Mobile/15E148 Safari/604.1",
        *("Safari", "15.6", "iOS", "15.7", "Mobile", "iPhone"),
    ),
    # Edge
    (
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {WEBKIT} {CHROME} Safari/537.36 Edg/131.0.0.0",
        *("Edge", "131.0", "Windows", "10", "Desktop", "Windows"),
    ),
    (
        f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {WEBKIT} {CHROME} Safari/537.36 "
        "Edg/131.0.0.0",
        *("Edge", "131.0", "macOS", "10.15", "Desktop", "macOS"),
    ),
    (
        f"Mozilla/5.0 (Linux; Android 10; K) {WEBKIT} {CHROME} Mobile Safari/537.36 EdgA/131.0.0.0",
        *("Edge", "131.0", "Android", "10", "Mobile", "Android"),
    ),
    # Opera
    (
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {WEBKIT} {CHROME} Safari/537.36 OPR/115.0.0.0",
        *("Opera", "115.0", "Windows", "10", "Desktop", "Windows"),
    ),
    (
        f"Mozilla/5.0 (Linux; Android 10; K) {WEBKIT} Chrome/130.0.0.0 Mobile Safari/537.36 "
        "OPR/85.0.0.0",
        *("Opera", "85.0", "Android", "10", "Mobile", "Android"),
    ),
    # Samsung Internet, phone and tablet
    (
        f"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) {WEBKIT} SamsungBrowser/27.0 "
        "Chrome/125.0.0.0 Mobile Safari/537.36",
        *("Samsung Internet", "27.0", "Android", "14", "Mobile", "Android"),
    ),
    (
        f"Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-X710) {WEBKIT} SamsungBrowser/26.0 "
        "Chrome/122.0.0.0 Safari/537.36",
        *("Samsung Internet", "26.0", "Android", "13", "Tablet", "Android"),
    ),
    # Kindle Fire
    (
        f"Mozilla/5.0 (Linux; Android 9; KFTRWI) {WEBKIT} Silk/131.3.1 like "
        "Chrome/131.0.6778.135 Safari/537.36",
        *("Silk", "131.3", "Android", "9", "Tablet", "Android"),
    ),
    # Others
    (
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {WEBKIT} {CHROME} Safari/537.36 "
        "Vivaldi/7.0.3495.18",
        *("Vivaldi", "7.0", "Windows", "10", "Desktop", "Windows"),
    ),
    (
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {WEBKIT} Chrome/130.0.0.0 "
        "YaBrowser/24.12.0.0 Safari/537.36",
        *("Yandex Browser", "24.12", "Windows", "10", "Desktop", "Windows"),
    ),
    (
        "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
        *("Internet Explorer", "11.0", "Windows", "7", "Desktop", "Windows"),
    ),
    (
        f"Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) {WEBKIT} "
        "Version/4.0 Chrome/131.0.6778.135 Mobile Safari/537.36",
        *("Android WebView", "131.0", "Android", "13", "Mobile", "Android"),
    ),
    (
        f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) {IOS_WEBKIT} Mobile/15E148 "
        "[FBAN/FBIOS;FBAV/490.0.0.33.108;FBBV/671000000;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;"
        "FBSV/17.7;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]",
        *("Facebook", "490.0", "iOS", "17.7", "Mobile", "iPhone"),
    ),
    (
        f"Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) {WEBKIT} "
        "Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.15063",
        *("Edge", "15.15063", "Windows Phone", "10.0", "Mobile", "WindowsPhone"),
    ),
    (
        f"Mozilla/5.0 (Linux; Android 12; moto g(60)) {WEBKIT} {CHROME} Mobile "
        "DuckDuckGo/5 Safari/537.36",
        *("DuckDuckGo", "5", "Android", "12", "Mobile", "Android"),
    ),
    (
        f"Mozilla/5.0 (Linux; Android 11; BRAVIA 4K UR3 Build/RTM6.230109.184) {WEBKIT} "
        "Chrome/105.0.5195.136 Safari/537.36",
        *("Chrome", "105.0", "Android", "11", "Desktop", "Android"),
    ),
]

BOTS: list[str] = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    f"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) {WEBKIT} "
    "Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
    "+http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
    "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
    "+claudebot@anthropic.com)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; "
    "+https://openai.com/bot",
    "Mozilla/5.0 (compatible; PerplexityBot/1.0; +https://perplexity.ai/perplexitybot)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)",
    f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {IOS_WEBKIT} Version/13.1.1 "
    "Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    "CCBot/2.0 (https://commoncrawl.org/faq/)",
    f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {WEBKIT} HeadlessChrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) "
    "PhantomJS/2.1.1 Safari/538.1",
    f"Mozilla/5.0 (X11; Linux x86_64) {WEBKIT} Chrome/125.0.6422.60 Safari/537.36 Lighthouse",
    "curl/8.5.0",
    "Wget/1.21.4",
    "python-requests/2.32.3",
    "Python-urllib/3.11",
    "Python/3.12 aiohttp/3.10.10",
    "python-httpx/0.28.1",
    "Go-http-client/2.0",
    "Java/17.0.9",
    "Apache-HttpClient/4.5.14 (Java/17.0.8)",
    "okhttp/4.12.0",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "axios/1.7.7",
    "libwww-perl/6.72",
    "Scrapy/2.11.2 (+https://scrapy.org)",
    "PostmanRuntime/7.42.0",
    "Deno/1.45.0",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Twitterbot/1.0",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)",
    "WhatsApp/2.23.20.0",
    "TelegramBot (like TwitterBot)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 "
    "skype-url-preview@microsoft.com",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "Bluesky Cardyb/1.1",
    "Mastodon/4.3.1 (http.rb/5.2.0; +https://mastodon.social/)",
    "Mozilla/4.0 (compatible; ms-office; MSOffice 16)",
    "Microsoft Office Existence Discovery",
    "Barracuda Sentinel (EE)",
    "Mozilla/5.0 (compatible; Proofpoint URL Defense)",
    "Mimecast-URL-Protect",
    "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)",
    f"Mozilla/5.0 (Linux; Android 11; Pixel 2; DuplexWeb-Google/1.0) {WEBKIT} "
    "Chrome/86.0.4240.193 Mobile Safari/537.36",
    "",
    "   ",
    "-",
    "Mozilla/5.0",
]
