"""Signing in to the dashboard (``/admin``), through the real aiohttp app and its test client, on SQLite and a
real Postgres, with the tests' frozen clock: the WhatsApp code (read from the outbox and from the built-in
fake Graph API), the lockout, single use and expiry, hashes only in the tables, no account discovery, the
per-address limits, CSRF on every POST, the redirect to the sign-in page on every route, signing out
(everywhere), an admin of two vendors, and ``next`` that never leads off site.

Each ``Browser`` keeps its own cookies, as a separate browser would, over the one test client."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert

from bot.sandbox.keys import graph_key
from bot.services import admin_auth
from bot.store.tables import admin_codes, admin_lockouts, admin_sessions, vendor_admins
from bot.web.admin.limits import limits_key
from tests.admin_support import (
    ADMIN,
    CSRF,
    OTHER_ADMIN,
    SESSION,
    STRANGER,
    TEMPLATE,
    Browser,
    Dashboard,
    OpenDashboard,
    add_vendor,
    admin_routes,
    digits,
    sign_in_then,
)

# -- signing in with the code ----------------------------------------------------------------------------


async def test_the_whatsapp_code_signs_in_with_an_httponly_lax_cookie_on_admin_not_secure_over_http(
    dashboard: Dashboard,
) -> None:
    browser = dashboard.browser()
    asked = await browser.ask_code("+33 6 12 34 56 78")
    assert asked.status == 200 and f"{ADMIN}" in await asked.text()
    # The code goes as the vendor's approved template, through the outbox, to the fake Graph API.
    sent = await dashboard.app[graph_key].wait_for(lambda m: m.to == digits(ADMIN) and m.kind == "template")
    assert sent.template_name == TEMPLATE
    code = await dashboard.last_code(ADMIN)
    assert sent.template_params == (code,)
    signed_in = await browser.enter_code(ADMIN, f"{code[:3]} {code[3:]}")  # as a phone may show it
    assert signed_in.status == 303 and signed_in.headers["Location"] == "/admin"
    cookie = signed_in.cookies[SESSION]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/admin"
    assert not cookie["secure"], "PUBLIC_BASE_URL is http"
    assert int(cookie["max-age"]) == 14 * 24 * 3600
    csrf = (await dashboard.browser().get("/admin/login")).cookies[CSRF]
    assert csrf["httponly"] and csrf["samesite"] == "Strict" and csrf["path"] == "/admin"
    assert not csrf["secure"]
    page = await browser.get("/admin/vendors")
    assert page.status == 200 and "Boulangerie" in await page.text()
    assert (await browser.get("/admin/login")).headers["Location"] == "/admin", "signed in already"


async def test_over_https_the_session_and_csrf_cookies_are_secure(open_dashboard: OpenDashboard) -> None:
    dashboard = await open_dashboard("https://pay.example.com")
    browser = dashboard.browser()
    first = await browser.get("/admin/login")
    assert first.cookies[CSRF]["secure"]
    assert (await browser.ask_code(ADMIN)).status == 200
    signed_in = await browser.enter_code(ADMIN, await dashboard.last_code(ADMIN))
    cookie = signed_in.cookies[SESSION]
    assert cookie["secure"] and cookie["httponly"]
    assert cookie["samesite"] == "Lax" and cookie["path"] == "/admin"


async def test_five_wrong_codes_lock_the_phone_for_15_minutes_even_against_the_right_code_then_it_works_again(
    dashboard: Dashboard,
) -> None:
    browser = dashboard.browser()
    await browser.ask_code(ADMIN)
    code = await dashboard.last_code(ADMIN)
    wrong = "000000" if code != "000000" else "111111"
    for attempt in range(1, 5):
        refused = await browser.enter_code(ADMIN, wrong)
        assert refused.status == 400 and f"{5 - attempt} more tr" in await refused.text()
    fifth = await browser.enter_code(ADMIN, wrong)
    # 09:30 UTC + 15 minutes, in the vendor's time zone (Paris).
    assert fifth.status == 429 and "locked until 10:45" in await fifth.text()
    assert SESSION not in browser.cookies
    dashboard.clock.advance(timedelta(minutes=9))
    right = await browser.enter_code(ADMIN, code)  # still within its 10 minutes, but the phone is locked
    assert right.status == 429 and SESSION not in browser.cookies
    dashboard.clock.advance(timedelta(minutes=5, seconds=59))
    assert (await browser.ask_code(ADMIN)).status == 429, "no new code while locked either"
    dashboard.clock.advance(timedelta(seconds=1))  # 15 minutes on: unlocked
    await dashboard.sign_in(browser)
    [lockout] = await dashboard.rows(admin_lockouts)
    assert (lockout["failures"], lockout["locked_until"]) == (0, None), "a sign-in starts the count again"


async def test_wrong_codes_count_in_a_row_and_a_sign_in_starts_the_count_again(dashboard: Dashboard) -> None:
    browser = dashboard.browser()
    for _ in range(4):
        assert (await browser.enter_code(ADMIN, "999999")).status == 400
    await dashboard.sign_in(dashboard.browser())
    other = dashboard.browser()
    assert (await other.enter_code(ADMIN, "999999")).status == 400, "4 + 1 wrong codes, but not in a row"


async def test_a_code_works_once_and_only_for_10_minutes_and_a_new_code_retires_the_older_one(
    dashboard: Dashboard,
) -> None:
    browser = dashboard.browser()
    await browser.ask_code(ADMIN)
    first = await dashboard.last_code(ADMIN)
    await dashboard.sign_in(browser)  # asks a second code, which retires the first
    assert (await dashboard.browser().enter_code(ADMIN, first)).status == 400, "retired by the newer code"
    used = await dashboard.last_code(ADMIN)
    assert (await dashboard.browser().enter_code(ADMIN, used)).status == 400, "single use"
    late = dashboard.browser()
    await late.ask_code(ADMIN)
    code = await dashboard.last_code(ADMIN)
    dashboard.clock.advance(timedelta(minutes=10))
    expired = await late.enter_code(ADMIN, code)
    assert expired.status == 400 and "expired" in await expired.text() and SESSION not in late.cookies
    soon = dashboard.browser()
    await soon.ask_code(ADMIN)
    code = await dashboard.last_code(ADMIN)
    dashboard.clock.advance(timedelta(minutes=9, seconds=59))
    assert (await soon.enter_code(ADMIN, code)).status == 303, "still good a second before 10 minutes"


async def test_the_code_and_session_tables_hold_only_hashes_of_codes_links_and_tokens(
    dashboard: Dashboard,
) -> None:
    browser = await dashboard.sign_in()
    code = await dashboard.last_code(ADMIN)
    pending = dashboard.browser()
    await pending.ask_code(ADMIN)
    live_code = await dashboard.last_code(ADMIN)
    link = await admin_auth.make_link(dashboard.uow, ADMIN, "http://bot.test", dashboard.clock())
    assert link is not None
    link_token = link.rsplit("/", 1)[1]
    token = browser.cookies[SESSION]
    secrets_rows = await dashboard.rows(admin_codes)
    session_rows = await dashboard.rows(admin_sessions)
    assert {row["kind"] for row in secrets_rows} == {"code", "link"} and session_rows
    values = [str(value) for row in [*secrets_rows, *session_rows] for value in row.values()]
    for plain in (link_token, token):
        assert not any(plain in value for value in values)
    for plain in (code, live_code):  # 6 digits could turn up inside a hex digest by chance: whole values
        assert plain not in values
    # Codes: salted PBKDF2 (salt$digest), never alike; links and sessions: the SHA-256 of their token.
    for row in secrets_rows:
        pattern = r"[0-9a-f]{16}\$[0-9a-f]{64}" if row["kind"] == "code" else r"[0-9a-f]{64}"
        assert re.fullmatch(pattern, row["secret_hash"]), row
    assert len({row["secret_hash"] for row in secrets_rows}) == len(secrets_rows)
    [link_row] = [row for row in secrets_rows if row["kind"] == "link"]
    assert link_row["secret_hash"] == hashlib.sha256(link_token.encode()).hexdigest()
    [session] = session_rows
    assert session["token_hash"] == hashlib.sha256(token.encode()).hexdigest()


# -- what a stranger learns ----------------------------------------------------------------------------------


def _same_page(html: str, phone: str) -> str:
    """The page with the phone typed taken out (the field's example number stays)."""
    example = 'placeholder="+33612345678"'
    return html.replace(example, "EXAMPLE").replace(phone, "PHONE").replace("EXAMPLE", example)


async def test_the_answer_is_the_same_whether_or_not_the_phone_is_an_admin_s(dashboard: Dashboard) -> None:
    browser = dashboard.browser()
    admin = await browser.ask_code(ADMIN)
    stranger = await browser.ask_code(STRANGER)
    assert admin.status == stranger.status == 200
    assert _same_page(await admin.text(), ADMIN) == _same_page(await stranger.text(), STRANGER)
    assert await dashboard.messages_to(ADMIN) == 1 and await dashboard.messages_to(STRANGER) == 0
    # Wrong codes, and the lockout they lead to, read the same too.
    for attempt in range(5):
        answers = [await browser.enter_code(phone, "000000") for phone in (ADMIN, STRANGER)]
        assert answers[0].status == answers[1].status == (400 if attempt < 4 else 429)
        texts = [
            _same_page(await a.text(), phone) for a, phone in zip(answers, (ADMIN, STRANGER), strict=True)
        ]
        assert texts[0] == texts[1], f"attempt {attempt + 1}"
    dashboard.app[limits_key].asking.reset()
    locked = [await browser.ask_code(phone) for phone in (ADMIN, STRANGER)]
    assert locked[0].status == locked[1].status
    assert _same_page(await locked[0].text(), ADMIN) == _same_page(await locked[1].text(), STRANGER)


async def test_asking_or_trying_codes_too_often_from_one_address_answers_429_for_a_minute(
    dashboard: Dashboard,
) -> None:
    browser = dashboard.browser()
    for n in range(5):
        assert (await browser.ask_code(f"+3369999000{n}")).status == 200
    too_many = await browser.ask_code(ADMIN)
    assert too_many.status == 429 and "Too many attempts" in await too_many.text()
    assert await dashboard.messages_to(ADMIN) == 0, "refused before anything is sent"
    dashboard.clock.advance(timedelta(minutes=1))
    assert (await browser.ask_code(ADMIN)).status == 200
    # Trying codes: 15 a minute, whatever the phones (each one below its own lockout).
    for n in range(15):
        assert (await browser.enter_code(f"+336999901{n:02d}", "123456")).status == 400
    refused = await browser.enter_code(ADMIN, await dashboard.last_code(ADMIN))
    assert refused.status == 429 and "Too many attempts" in await refused.text()
    assert SESSION not in browser.cookies, "even the right code waits"
    # Per address: another one is not held back.
    limits, now = dashboard.app[limits_key], dashboard.clock()
    assert limits.trying.allow("192.0.2.7", now) and limits.asking.allow("192.0.2.7", now)
    dashboard.clock.advance(timedelta(minutes=1))
    assert (await browser.enter_code(ADMIN, await dashboard.last_code(ADMIN))).status == 303


async def test_behind_the_reverse_proxy_each_client_s_forwarded_address_has_its_own_sign_in_limit(
    dashboard: Dashboard,
) -> None:
    """docs/deploy.md: Caddy on the same machine is the bot's only peer (127.0.0.1 here too)."""
    browser = dashboard.browser()

    async def ask(phone: str, client: str) -> int:
        form = {"csrf": await browser.csrf(), "next": "/admin", "phone": phone}
        headers = {"X-Forwarded-For": client}
        return (await browser.post("/admin/login", form, headers=headers)).status

    for n in range(5):
        assert await ask(f"+3369999000{n}", "203.0.113.9") == 200
    assert await ask(ADMIN, "203.0.113.9") == 429
    # Another customer of the same proxy is not locked out by the first one's attempts.
    assert await ask(ADMIN, "198.51.100.4") == 200


# -- CSRF and the sign-in wall -------------------------------------------------------------------------------


async def test_every_admin_post_route_refuses_a_form_without_its_csrf_token_or_with_a_wrong_one(
    dashboard: Dashboard,
) -> None:
    posts = [path for method, path in admin_routes(dashboard.app) if method == "POST"]
    assert {"/admin/login", "/admin/login/code", "/admin/vendors", "/admin/logout"} <= set(posts)
    browser = await dashboard.sign_in()
    token = browser.cookies[CSRF]
    for path in posts:
        form = {"phone": ADMIN, "code": "123456", "vendor": str(dashboard.vendor.id), "everywhere": "1"}
        missing = await browser.post(path, form)
        assert missing.status == 403, (path, missing.status)
        wrong = await browser.post(path, {**form, "csrf": "x" * len(token)})
        assert wrong.status == 403, (path, wrong.status)
        no_cookie = Browser(dashboard.client)
        no_cookie.cookies = {SESSION: browser.cookies[SESSION]}
        assert (await no_cookie.post(path, {**form, "csrf": token})).status == 403, (path, "no CSRF cookie")
    still = await browser.get("/admin/vendors")
    assert still.status == 200, "the refused sign-out ended nothing"


async def test_every_admin_route_redirects_to_the_sign_in_page_without_a_session(
    dashboard: Dashboard,
) -> None:
    routes = admin_routes(dashboard.app)
    walled = [(m, p) for m, p in routes if p != "/admin/login" and not p.startswith("/admin/login/")]
    assert {("GET", "/admin/vendors"), ("POST", "/admin/vendors"), ("POST", "/admin/logout")} <= set(walled)
    # Unknown pages too: nobody learns which pages exist without signing in.
    walled += [
        ("GET", "/admin"),
        ("GET", "/admin/"),
        ("GET", "/admin/no-such-page"),
        ("GET", "/admin/loginx"),
    ]
    signed_out = await dashboard.sign_in()
    old_token = signed_out.cookies[SESSION]
    assert (await signed_out.post("/admin/logout", {"csrf": signed_out.cookies[CSRF]})).status == 303
    strangers = {
        "no cookie": {},
        "made-up cookie": {SESSION: "y" * 43},
        "oversized cookie": {SESSION: "z" * 500},
        "signed-out cookie": {SESSION: old_token},
    }
    for name, cookies in strangers.items():
        for method, path in walled:
            browser = dashboard.browser()
            browser.cookies = dict(cookies)
            response = await browser.request(method, path, data={"csrf": "x"} if method == "POST" else None)
            target = path if method == "GET" else "/admin"  # a form's page, not its action
            assert response.status == 302, (name, method, path, response.status)
            assert sign_in_then(response) == target, (name, method, path)


async def test_a_session_left_idle_for_14_days_ends_and_one_in_use_goes_on(dashboard: Dashboard) -> None:
    browser = await dashboard.sign_in()
    dashboard.clock.advance(timedelta(days=13))
    assert (await browser.get("/admin/vendors")).status == 200, "seen again: two more weeks"
    dashboard.clock.advance(timedelta(days=13))
    assert (await browser.get("/admin/vendors")).status == 200
    dashboard.clock.advance(timedelta(days=14))
    assert (await browser.get("/admin/vendors")).status == 302


# -- signing out ---------------------------------------------------------------------------------------------


async def test_signing_out_ends_the_session_for_good(dashboard: Dashboard) -> None:
    browser = await dashboard.sign_in()
    token = browser.cookies[SESSION]
    other = await dashboard.sign_in()  # the same admin in another browser
    out = await browser.post("/admin/logout", {"csrf": browser.cookies[CSRF]})
    assert out.status == 303 and out.headers["Location"] == "/admin/login"
    assert SESSION not in browser.cookies, "the cookie is cleared"
    replayed = dashboard.browser()
    replayed.cookies = {SESSION: token}
    assert (await replayed.get("/admin/vendors")).status == 302, "the old cookie no longer works"
    assert (await other.get("/admin/vendors")).status == 200, "signing out here ends only this session"


async def test_signing_out_everywhere_ends_the_admin_s_other_sessions_and_no_one_else_s(
    dashboard: Dashboard,
) -> None:
    await add_vendor(dashboard.uow, "Fleurs", OTHER_ADMIN)
    laptop, phone = await dashboard.sign_in(), await dashboard.sign_in()
    someone_else = await dashboard.sign_in(phone=OTHER_ADMIN)
    tokens = [laptop.cookies[SESSION], phone.cookies[SESSION]]
    out = await phone.post("/admin/logout", {"csrf": phone.cookies[CSRF], "everywhere": "1"})
    assert out.status == 303 and SESSION not in phone.cookies
    for token in tokens:
        browser = dashboard.browser()
        browser.cookies = {SESSION: token}
        assert (await browser.get("/admin/vendors")).status == 302
    assert (await laptop.get("/admin/vendors")).status == 302
    assert (await someone_else.get("/admin/vendors")).status == 200, "another admin's session goes on"
    revoked = [row for row in await dashboard.rows(admin_sessions) if row["revoked_at"] is not None]
    assert {row["phone"] for row in revoked} == {digits(ADMIN)} and len(revoked) == 2


# -- an admin of several vendors -----------------------------------------------------------------------------


async def test_an_admin_of_two_vendors_picks_one_and_gets_404_for_a_vendor_that_is_not_theirs(
    dashboard: Dashboard,
) -> None:
    fleurs = await add_vendor(dashboard.uow, "Fleurs", OTHER_ADMIN)
    bonbons = await add_vendor(dashboard.uow, "Bonbons", "+33677778888")
    async with dashboard.uow() as uow:  # one phone for two vendors: made in the store, as an operator would
        await uow.connection.execute(
            insert(vendor_admins).values(id=uuid.uuid4(), vendor_id=fleurs.id, phone=digits(ADMIN))
        )
        await uow.commit()
    browser = dashboard.browser()
    await browser.ask_code(ADMIN)
    signed_in = await browser.enter_code(ADMIN, await dashboard.last_code(ADMIN), "/admin/orders")
    assert signed_in.status == 303 and signed_in.headers["Location"] == "/admin/vendors"
    assert (await browser.get("/admin/orders")).headers["Location"] == "/admin/vendors", "pick one first"
    assert (await browser.get("/admin")).headers["Location"] == "/admin/vendors"
    listing = await browser.get("/admin/vendors")
    html = await listing.text()
    assert listing.status == 200 and "Boulangerie" in html and "Fleurs" in html and "Bonbons" not in html
    csrf = browser.cookies[CSRF]
    assert (await browser.post("/admin/vendors", {"csrf": csrf, "vendor": str(bonbons.id)})).status == 404
    assert (await browser.post("/admin/vendors", {"csrf": csrf, "vendor": "not-an-id"})).status == 400
    picked = await browser.post("/admin/vendors", {"csrf": csrf, "vendor": str(fleurs.id)})
    assert picked.status == 303 and picked.headers["Location"] == "/admin"
    [session] = await dashboard.rows(admin_sessions)
    assert session["vendor_id"] == fleurs.id
    after = await browser.get("/admin/no-such-page")
    assert after.status == 404, "past the sign-in wall and the vendor choice"


# -- where signing in leads ----------------------------------------------------------------------------------


OFF_SITE = [
    "//evil.example",
    "https://evil.example",
    "/\\evil.example",
    "/admin//evil.example",
    "/admin/\\evil.example",
    "javascript:alert(1)",
    "/admin\r\nSet-Cookie: x=y",
    "/admin\t//evil.example",
    "evil.example",
]


@pytest.mark.parametrize("target", OFF_SITE)
async def test_next_never_leads_off_site(dashboard: Dashboard, target: str) -> None:
    browser = dashboard.browser()
    page = await browser.get("/admin/login", params={"next": target})
    assert page.status == 200 and 'name="next" value="/admin"' in await page.text()
    await browser.ask_code(ADMIN, target)
    signed_in = await browser.enter_code(ADMIN, await dashboard.last_code(ADMIN), target)
    assert signed_in.status == 303 and signed_in.headers["Location"] == "/admin"


async def test_next_leads_back_to_the_dashboard_page_asked_for(dashboard: Dashboard) -> None:
    browser = dashboard.browser()
    wall = await browser.get("/admin/orders?status=paid&page=2")
    assert sign_in_then(wall) == "/admin/orders?status=paid&page=2"
    page = await browser.get(wall.headers["Location"])
    assert 'name="next" value="/admin/orders?status=paid&amp;page=2"' in await page.text()
    await browser.ask_code(ADMIN, "/admin/orders?status=paid&page=2")
    code = await dashboard.last_code(ADMIN)
    signed_in = await browser.enter_code(ADMIN, code, "/admin/orders?status=paid&page=2")
    assert signed_in.headers["Location"] == "/admin/orders?status=paid&page=2"


# -- one-time links ------------------------------------------------------------------------------------------


async def test_a_one_time_link_signs_in_once_and_not_after_10_minutes(dashboard: Dashboard) -> None:
    link = await admin_auth.make_link(dashboard.uow, ADMIN, "http://bot.test", dashboard.clock())
    assert link is not None and link.startswith("http://bot.test/admin/login/link/")
    path = link.removeprefix("http://bot.test")
    browser = dashboard.browser()
    signed_in = await browser.get(path)
    assert signed_in.status == 303 and signed_in.headers["Location"] == "/admin"
    assert signed_in.cookies[SESSION]["httponly"] and signed_in.cookies[SESSION]["path"] == "/admin"
    assert (await browser.get("/admin/vendors")).status == 200
    assert (await dashboard.browser().get(path)).status == 410, "once"
    late = await admin_auth.make_link(dashboard.uow, ADMIN, "", dashboard.clock())
    assert late is not None
    dashboard.clock.advance(timedelta(minutes=10))
    assert (await dashboard.browser().get(late)).status == 410, "10 minutes"
    assert (await dashboard.browser().get("/admin/login/link/" + "n" * 43)).status == 410
    assert await admin_auth.make_link(dashboard.uow, STRANGER, "", dashboard.clock()) is None
