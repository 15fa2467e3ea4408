"""The web console in a real headless Chromium (Debian's `chromium`, driven by Playwright) against `cang up`: the
guide's two ways of turning on server-side encryption, each result checked independently with oss2; RAM users
without the guide's permissions; a 64 MiB upload through the browser; and the session's defences (CSRF token,
Origin, forged cookie, sign-out) with raw HTTP.

Screenshots of every step go to $CANG_SCREENSHOTS (default target/console-screenshots); a blank page or an
unexpected error message fails the step.
"""

import hashlib
import http.client
import os
import pathlib
import re
import shutil
import urllib.parse
import uuid

import oss2
import pytest
from playwright.sync_api import expect, sync_playwright

from cang_up import Credentials, oss2_bucket

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = pathlib.Path(
    os.environ.get("CANG_SCREENSHOTS", pathlib.Path(__file__).resolve().parents[2] / "target" / "console-screenshots")
)



@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 860})
    page = context.new_page()
    yield page
    context.close()


def shot(page, name, expect_error=False):
    """Screenshot of this step; fails on a blank page, or on an error message the step did not expect."""
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    text = page.inner_text("body")
    assert len(text.strip()) > 40, f"{name}: the page is blank"
    errors = [e for e in page.locator("main .error").all_inner_texts() if e.strip()]
    if not expect_error:
        assert not errors, f"{name}: the page shows an error: {errors}"
    return errors


def sign_in(page, cang, credentials=None):
    creds = credentials or cang.root
    page.goto(cang.console_url)
    expect(page).to_have_url(re.compile(r"/login"))
    page.fill('input[name="access_key_id"]', creds.access_key_id)
    page.fill('input[name="access_key_secret"]', creds.access_key_secret)
    page.click('#login button[type="submit"]')
    expect(page.locator("#who")).to_have_text(creds.access_key_id)


def sse_of(bucket, key):
    headers = bucket.head_object(key).headers
    return headers.get("x-oss-server-side-encryption"), headers.get("x-oss-server-side-encryption-key-id")


def row_of(page, key):
    return page.locator(f'#object-list tr[data-key="{key}"]')


def test_flow_one_create_bucket_with_kms_and_a_cmk(cang, page, tmp_path):
    """方式一: 新建 Bucket → 服务端加密 KMS with a CMK from the picker → 确定; an upload is encrypted with it."""
    cmk = cang.create_key()
    name = f"console-kms-{uuid.uuid4().hex[:10]}"
    sign_in(page, cang)
    shot(page, "1-1-bucket-list")
    page.click("#create-bucket")
    page.fill('#create-form input[name="name"]', name)
    page.check('#create-form input[name="sse"][value="KMS"]')
    picker = page.locator('#create-form select[name="key"]')
    expect(picker.locator(f'option[value="{cmk}"]')).to_have_count(1)
    picker.select_option(cmk)
    shot(page, "1-2-create-bucket-dialog-kms")
    page.click("#create-ok")
    expect(page).to_have_url(re.compile(rf"/b/{name}/$"))
    shot(page, "1-3-new-bucket")

    upload = tmp_path / "report.txt"
    upload.write_bytes(b"quarterly numbers\n" * 100)
    page.set_input_files("#upload-file", str(upload))
    page.click("#upload-start")
    expect(row_of(page, "report.txt")).to_have_count(1, timeout=30_000)
    cell = row_of(page, "report.txt").locator("td.encryption")
    expect(cell).to_contain_text("KMS")
    expect(cell).to_contain_text(cmk)
    shot(page, "1-4-object-list-kms")

    page.goto(cang.console_url)
    expect(page.locator(f'#bucket-list tr[data-bucket="{name}"] td.encryption')).to_contain_text(cmk)

    bucket = oss2_bucket(cang, "v4", name)
    assert sse_of(bucket, "report.txt") == ("KMS", cmk)
    assert bucket.get_object("report.txt").read() == upload.read_bytes()
    rule = bucket.get_bucket_encryption()
    assert (rule.sse_algorithm, rule.kms_master_keyid) == ("KMS", cmk)


def test_flow_two_basic_settings_sets_aes256_for_new_objects_only(cang, page, tmp_path):
    """方式二: 基础设置 → 服务端加密 → 设置 → AES256 → 保存; the older object stays unencrypted, a new one is AES256."""
    name = f"console-aes-{uuid.uuid4().hex[:10]}"
    bucket = oss2_bucket(cang, "v4", name)
    bucket.create_bucket()
    bucket.put_object("old.txt", b"written before the default")
    sign_in(page, cang)
    page.goto(f"{cang.console_url}b/{name}/settings")
    expect(page.locator("#current-sse")).to_contain_text("无")
    expect(page.locator("#sse-panel")).to_contain_text("不会改变 Bucket 中已有文件的加密方式")
    shot(page, "2-1-basic-settings")
    page.click("#sse-set")
    page.check('#sse-form input[name="sse"][value="AES256"]')
    shot(page, "2-2-set-aes256")
    page.click("#sse-save")
    expect(page.locator("#saved")).to_be_visible()
    expect(page.locator("#current-sse")).to_contain_text("AES256")
    shot(page, "2-3-saved")

    page.goto(f"{cang.console_url}b/{name}/")
    upload = tmp_path / "new.txt"
    upload.write_bytes(b"written after the default")
    page.set_input_files("#upload-file", str(upload))
    page.click("#upload-start")
    expect(row_of(page, "new.txt")).to_have_count(1, timeout=30_000)
    expect(row_of(page, "new.txt").locator("td.encryption")).to_contain_text("AES256")
    expect(row_of(page, "old.txt").locator("td.encryption")).to_contain_text("无")
    shot(page, "2-4-object-list-old-and-new")

    assert sse_of(bucket, "old.txt") == (None, None)
    assert sse_of(bucket, "new.txt")[0] == "AES256"
    assert bucket.get_bucket_encryption().sse_algorithm == "AES256"


def test_english_labels_and_hostile_keys_display_as_text(cang, page):
    name = f"console-keys-{uuid.uuid4().hex[:10]}"
    bucket = oss2_bucket(cang, "v4", name)
    bucket.create_bucket()
    hostile = "<img src=x onerror=alert(1)><script>alert(2)<\\script>\"'\u202etxt.exe"
    bucket.put_object(hostile, b"x")
    sign_in(page, cang)
    page.click("a.lang")
    expect(page.locator("#create-bucket")).to_have_text("Create Bucket")
    page.goto(f"{cang.console_url}b/{name}/")
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    cell = page.locator("#object-list td.key")
    expect(cell).to_have_text("<img src=x onerror=alert(1)><script>alert(2)<\\script>\"'\\u{202e}txt.exe")
    shot(page, "3-1-english-hostile-key")
    assert dialogs == [], "a key's text ran as script"


def test_a_ram_user_without_kms_list_sees_the_missing_permission(cang, page, tmp_path):
    user = cang.ram_user([{"Effect": "Allow", "Action": ["oss:*"], "Resource": ["*"]}], tmp_path)
    sign_in(page, cang, user)
    page.click("#create-bucket")
    page.check('#create-form input[name="sse"][value="KMS"]')
    status = page.locator("#create-form .key-status")
    expect(status).to_contain_text("缺少权限 kms:ListKeys")
    shot(page, "4-1-picker-missing-kms-list", expect_error=True)


def test_without_put_bucket_encryption_save_fails_clearly_and_changes_nothing(cang, page, tmp_path):
    name = f"console-deny-{uuid.uuid4().hex[:10]}"
    bucket = oss2_bucket(cang, "v4", name)
    bucket.create_bucket()
    user = cang.ram_user(
        [
            {"Effect": "Allow", "Action": ["oss:*"], "Resource": ["*"]},
            {"Effect": "Deny", "Action": ["oss:PutBucketEncryption"], "Resource": ["*"]},
        ],
        tmp_path,
    )
    sign_in(page, cang, user)
    page.goto(f"{cang.console_url}b/{name}/settings")
    page.click("#sse-set")
    page.check('#sse-form input[name="sse"][value="AES256"]')
    page.click("#sse-save")
    expect(page.locator("#save-error")).to_contain_text("缺少权限 oss:PutBucketEncryption")
    shot(page, "5-1-save-refused", expect_error=True)
    with pytest.raises(oss2.exceptions.NoSuchServerSideEncryptionRule):
        bucket.get_bucket_encryption()


def test_a_64_mib_upload_shows_progress_and_round_trips(cang, page, tmp_path):
    name = f"console-big-{uuid.uuid4().hex[:10]}"
    bucket = oss2_bucket(cang, "v4", name)
    bucket.create_bucket()
    big = tmp_path / "big.bin"
    with open(big, "wb") as out:
        for _ in range(64):
            out.write(os.urandom(1 << 20))
    sign_in(page, cang)
    page.goto(f"{cang.console_url}b/{name}/")
    page.set_input_files("#upload-file", str(big))
    page.click("#upload-start")
    # The bar moves before the upload ends: some reading between the first byte and the last.
    page.wait_for_function(
        "() => { const b = document.querySelector('#uploads progress');"
        " return b && b.value > 0 && b.value < b.max; }",
        timeout=60_000,
    )
    # Mid-upload: the network is busy until the end, so this step is captured as it is.
    page.screenshot(path=str(SHOTS / "6-1-upload-progress.png"), full_page=True)
    expect(row_of(page, "big.bin")).to_have_count(1, timeout=180_000)
    got = bucket.get_object("big.bin").read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(big.read_bytes()).digest()
    # Sent as a multipart upload of 8 MiB parts, not one buffered body.
    assert bucket.head_object("big.bin").etag.endswith("-8")


class Http:
    """Raw requests to the console, redirects not followed."""

    def __init__(self, url):
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.origin = f"http://{parsed.hostname}:{parsed.port}"

    def request(self, method, path, body=b"", headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            answer = conn.getresponse()
            return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
        finally:
            conn.close()

    def sign_in(self, credentials):
        form = urllib.parse.urlencode(
            {"access_key_id": credentials.access_key_id, "access_key_secret": credentials.access_key_secret}
        )
        status, headers, _ = self.request(
            "POST", "/login", form,
            {"Content-Type": "application/x-www-form-urlencoded", "Origin": self.origin},
        )
        assert status == 303, status
        cookie = headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert credentials.access_key_secret not in cookie
        return cookie.split(";")[0]

    def csrf(self, cookie):
        status, _, body = self.request("GET", "/", headers={"Cookie": cookie})
        assert status == 200
        return re.search(rb'name="csrf-token" content="([0-9a-f]+)"', body).group(1).decode()


def test_state_changes_need_the_token_and_the_consoles_origin(cang):
    name = f"console-csrf-{uuid.uuid4().hex[:10]}"
    bucket = oss2_bucket(cang, "v4", name)
    bucket.create_bucket()
    web = Http(cang.console_url)
    cookie = web.sign_in(cang.root)
    token = web.csrf(cookie)
    form = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}

    status, _, _ = web.request("POST", f"/b/{name}/encryption", "sse=AES256", {**form, "Origin": web.origin})
    assert status == 403, "no token"
    status, _, _ = web.request(
        "POST", f"/b/{name}/encryption", f"sse=AES256&csrf={token}", {**form, "Origin": "http://evil.example"}
    )
    assert status == 403, "another origin"
    status, _, _ = web.request("POST", f"/b/{name}/encryption", f"sse=AES256&csrf={token}", form)
    assert status == 403, "no origin at all"
    status, _, _ = web.request(
        "PUT", f"/api/b/{name}/object?key=x", b"data",
        {"Cookie": cookie, "Origin": web.origin, "x-cang-csrf": "0" * 32, "Content-Length": "4"},
    )
    assert status == 403, "a wrong token on an upload"
    with pytest.raises(oss2.exceptions.NoSuchServerSideEncryptionRule):
        bucket.get_bucket_encryption()
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.head_object("x")

    status, headers, _ = web.request(
        "POST", f"/b/{name}/encryption", f"sse=AES256&csrf={token}", {**form, "Origin": web.origin}
    )
    assert status == 303 and "saved=1" in headers["location"]
    assert bucket.get_bucket_encryption().sse_algorithm == "AES256"


def test_a_forged_cookie_and_a_signed_out_session_are_refused(cang):
    web = Http(cang.console_url)
    status, headers, _ = web.request("GET", "/", headers={"Cookie": "cang_console=" + "A" * 120})
    assert status == 303 and headers["location"].startswith("/login")
    cookie = web.sign_in(cang.root)
    value = cookie.split("=", 1)[1]
    flipped = value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
    status, headers, _ = web.request("GET", "/", headers={"Cookie": f"cang_console={flipped}"})
    assert status == 303 and headers["location"].startswith("/login")

    token = web.csrf(cookie)
    status, headers, _ = web.request(
        "POST", "/logout", f"csrf={token}",
        {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie, "Origin": web.origin},
    )
    assert status == 303 and headers["location"] == "/login"
    status, headers, _ = web.request("GET", "/", headers={"Cookie": cookie})
    assert status == 303 and headers["location"] == "/login?ended=1"
    status, _, _ = web.request("GET", "/api/keys", headers={"Cookie": cookie})
    assert status == 401


def test_a_wrong_secret_does_not_sign_in(cang):
    web = Http(cang.console_url)
    form = urllib.parse.urlencode({"access_key_id": cang.root.access_key_id, "access_key_secret": "wrong"})
    status, headers, body = web.request(
        "POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded", "Origin": web.origin}
    )
    assert status == 401 and "set-cookie" not in headers
    assert "不正确".encode() in body or b"wrong" in body


def test_the_key_pages_create_rotate_disable_and_schedule_deletion(cang, page):
    sign_in(page, cang)
    page.goto(f"{cang.console_url}keys")
    shot(page, "7-1-keys")
    page.click("#create-key")
    page.fill('#create-key-form input[name="description"]', "console <b>key</b>")
    page.check('#create-key-form input[name="rotation"]')
    page.fill('#create-key-form input[name="days"]', "90")
    page.click("#create-key-ok")
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#key-state")).to_have_text("Enabled")
    expect(page.locator("#key-rotation")).to_contain_text("90d")
    expect(page.locator("#key-panel")).to_contain_text("console <b>key</b>")
    key_id = page.url.split("/keys/")[1].split("?")[0]
    assert cang.admin("kms", "describe-key", key_id)["KeyState"] == "Enabled"
    shot(page, "7-2-key-created")

    versions = page.locator("#key-versions tbody tr").count()
    page.click("#key-rotate")
    expect(page.locator("#key-versions tbody tr")).to_have_count(versions + 1)

    page.fill('#key-alias-form input[name="alias"]', "alias/console-test-" + key_id[:8])
    page.click("#key-alias-ok")
    expect(page.locator("#key-aliases")).to_contain_text("alias/console-test-")

    page.click("#key-disable")
    expect(page.locator("#key-state")).to_have_text("Disabled")
    page.click("#key-enable")
    expect(page.locator("#key-state")).to_have_text("Enabled")

    page.fill('#key-schedule input[name="days"]', "6")
    page.click("#key-schedule-ok")
    expect(page.locator("#key-error")).to_be_visible()
    expect(page.locator("#key-state")).to_have_text("Enabled")
    shot(page, "7-3-deletion-window-refused", expect_error=True)
    page.fill('#key-schedule input[name="days"]', "7")
    page.click("#key-schedule-ok")
    expect(page.locator("#key-state")).to_have_text("PendingDeletion")
    expect(page.locator("#key-deletion")).not_to_be_empty()
    assert cang.admin("kms", "describe-key", key_id)["KeyState"] == "PendingDeletion"
    shot(page, "7-4-pending-deletion")
    page.click("#key-cancel-deletion")
    expect(page.locator("#key-state")).to_have_text("Enabled")


def test_a_ram_user_without_kms_create_key_is_told_so(cang, page, tmp_path):
    user = cang.ram_user([{"Effect": "Allow", "Action": ["kms:List*", "kms:Describe*"], "Resource": ["*"]}], tmp_path)
    sign_in(page, cang, user)
    page.goto(f"{cang.console_url}keys")
    page.click("#create-key")
    page.click("#create-key-ok")
    expect(page.locator("#keys-error")).to_contain_text("缺少权限 kms:CreateKey")
    shot(page, "7-5-create-key-refused", expect_error=True)


def test_prefixes_pages_download_and_delete(cang, page, tmp_path):
    name = f"console-browse-{uuid.uuid4().hex[:10]}"
    bucket = oss2_bucket(cang, "v4", name)
    bucket.create_bucket()
    for i in range(105):
        bucket.put_object(f"logs/{i:03d}.txt", f"line {i}".encode())
    bucket.put_object("top.txt", b"top level")
    sign_in(page, cang)
    page.goto(f"{cang.console_url}b/{name}/")
    folder = page.locator("#object-list tr.folder a")
    expect(folder).to_contain_text("logs/")
    expect(row_of(page, "top.txt")).to_have_count(1)
    folder.click()
    expect(page.locator("#object-list tbody tr")).to_have_count(100)
    page.click("#next-page")
    expect(page.locator("#object-list tbody tr")).to_have_count(5)
    expect(row_of(page, "logs/104.txt")).to_have_count(1)
    shot(page, "8-1-second-page")

    with page.expect_download() as download:
        row_of(page, "logs/104.txt").locator("a[download]").click()
    saved = tmp_path / "downloaded.txt"
    download.value.save_as(saved)
    assert saved.read_bytes() == b"line 104"

    page.goto(f"{cang.console_url}b/{name}/?prefix=logs%2F")
    page.once("dialog", lambda d: d.accept())
    row_of(page, "logs/000.txt").locator("form.delete button").click()
    expect(page).to_have_url(re.compile(r"prefix=logs%2F"))
    expect(row_of(page, "logs/000.txt")).to_have_count(0)
    expect(row_of(page, "logs/100.txt")).to_have_count(1)
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.head_object("logs/000.txt")
    assert bucket.head_object("logs/001.txt").status == 200


def test_the_root_manages_ram_users_keys_and_policies(cang, page):
    user = f"console-{uuid.uuid4().hex[:8]}"
    policy = f"read-{uuid.uuid4().hex[:8]}"
    sign_in(page, cang)
    page.goto(f"{cang.console_url}ram")
    shot(page, "9-1-ram")
    page.fill('#create-user-form input[name="name"]', user)
    page.click("#create-user")
    expect(page.locator("#ram-user h1")).to_have_text(user)

    page.goto(f"{cang.console_url}ram")
    bad = (
        '{\n  "Version": "1",\n  "Statement": [\n    {\n      "Effect": "Maybe",\n'
        '      "Action": ["oss:Get*", "oss:List*"],\n      "Resource": "*"\n    }\n  ]\n}\n'
    )
    page.fill('#create-policy-form input[name="name"]', policy)
    page.fill('#create-policy-form textarea[name="document"]', bad)
    page.click("#create-policy")
    expect(page.locator("#policy-error")).to_contain_text("Statement[0].Effect")
    expect(page.locator("#policy-error-line")).to_contain_text("5")
    expect(page.locator("#policy-listing li.bad")).to_have_text('      "Effect": "Maybe",')
    shot(page, "9-2-policy-refused-at-its-line", expect_error=True)
    page.fill('#create-policy-form textarea[name="document"]', bad.replace("Maybe", "Allow"))
    page.click("#create-policy")
    expect(page.locator(f'#policy-list tr[data-policy="{policy}"]')).to_have_count(1)

    page.goto(f"{cang.console_url}ram/users/{user}")
    page.select_option('#attach-form select[name="policy"]', policy)
    page.click("#attach")
    expect(page.locator(f'#attached-policies tr[data-policy="{policy}"]')).to_have_count(1)
    page.click("#create-access-key")
    key_id = page.locator("#new-key-id").inner_text()
    secret = page.locator("#new-key-secret").inner_text()
    shot(page, "9-3-access-key-created")
    # The secret is shown once: the page does not show it again.
    page.goto(f"{cang.console_url}ram/users/{user}")
    expect(page.locator("#new-key")).to_have_count(0)
    assert secret not in page.content()

    name = f"console-ram-{uuid.uuid4().hex[:8]}"
    oss2_bucket(cang, "v4", name).create_bucket()
    oss2_bucket(cang, "v4", name).put_object("a.txt", b"for the new user")
    as_user = oss2_bucket(cang, "v4", name, Credentials(key_id, secret))
    assert as_user.get_object("a.txt").read() == b"for the new user"
    with pytest.raises(oss2.exceptions.AccessDenied):
        as_user.put_object("b.txt", b"read only")

    page.locator(f'#access-keys tr[data-access-key="{key_id}"] form button').first.click()
    expect(page.locator(f'#access-keys tr[data-access-key="{key_id}"] td.status')).to_have_text("Inactive")
    page.click("#delete-user")
    expect(page).to_have_url(re.compile(r"/ram$"))
    expect(page.locator(f'#user-list tr[data-user="{user}"]')).to_have_count(0)


def test_a_ram_user_without_ram_permissions_sees_what_is_missing(cang, page, tmp_path):
    user = cang.ram_user([{"Effect": "Allow", "Action": ["oss:*"], "Resource": ["*"]}], tmp_path)
    sign_in(page, cang, user)
    page.goto(f"{cang.console_url}ram")
    expect(page.locator("#ram-error")).to_contain_text("缺少权限 ram:ListUsers")
    shot(page, "9-4-ram-refused", expect_error=True)


def test_a_sign_out_outlives_a_gateway_restart(bin_dir, tmp_path):
    """Sign-outs are recorded by the metadata service, not only in the gateway that saw them: after the
    instance restarts (a new gateway process, the same session key) the cookie still opens nothing, while a
    session that was not signed out survives."""
    from cang_up import running

    data = tmp_path / "restart"
    with running(bin_dir / "cang", data) as first:
        web = Http(first.console_url)
        kept = web.sign_in(first.root)
        ended = web.sign_in(first.root)
        token = web.csrf(ended)
        status, _, _ = web.request(
            "POST", "/logout", f"csrf={token}",
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": ended, "Origin": web.origin},
        )
        assert status == 303
    with running(bin_dir / "cang", data) as second:
        assert second.console_url == first.console_url
        web = Http(second.console_url)
        status, _, _ = web.request("GET", "/", headers={"Cookie": kept})
        assert status == 200, "a live session survives the restart"
        status, headers, _ = web.request("GET", "/", headers={"Cookie": ended})
        assert status == 303 and headers["location"] == "/login?ended=1"


def test_without_get_bucket_encryption_the_panel_names_the_permission(cang, page, tmp_path):
    name = f"console-noget-{uuid.uuid4().hex[:10]}"
    oss2_bucket(cang, "v4", name).create_bucket()
    user = cang.ram_user(
        [
            {"Effect": "Allow", "Action": ["oss:*"], "Resource": ["*"]},
            {"Effect": "Deny", "Action": ["oss:GetBucketEncryption"], "Resource": ["*"]},
        ],
        tmp_path,
    )
    sign_in(page, cang, user)
    page.goto(f"{cang.console_url}b/{name}/settings")
    expect(page.locator("#current-sse")).to_contain_text("缺少权限 oss:GetBucketEncryption")
    shot(page, "5-2-panel-without-get-permission")
