"""BM25 retrieval over a real git repository at a commit, fitted to a token budget."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness_fixture import git
from monkeys_swe.tasks.swebench.prompt import parse_localization
from monkeys_swe.tasks.swebench.retrieval import CHUNK_LINES, RepoSnapshot, build_context, count_tokens, rank_files
from monkeys_swe.tasks.swebench import related_tests

CART = '''"""Shopping cart."""


class Cart:
    def __init__(self):
        self.items = []

    def apply_discount(self, coupon_code):
        """Apply a coupon: percentage discounts are taken off the subtotal."""
        percent = COUPONS[coupon_code]
        return self.subtotal() * (1 - percent / 100)
'''
FILLER = "".join(f"def helper_{i}(x):\n    return x * {i}\n\n\n" for i in range(200))  # ~800 lines
BIG = FILLER[: len(FILLER) // 2] + "def render_invoice_pdf(invoice):\n    return pdf_bytes(invoice)\n\n\n" + FILLER[len(FILLER) // 2:]


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("shop")
    git(root, "init", "-q", "-b", "main")
    files = {"shop/__init__.py": "", "shop/cart.py": CART, "shop/users.py": "def login(name):\n    return name\n",
             "shop/invoice.py": BIG, "tests/test_cart.py": "def test_discount_coupon_cart():\n    pass\n",
             "docs/discounts.md": "coupon discount cart discount coupon\n"}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "shop")
    commit = git(root, "rev-parse", "HEAD").strip()
    (root / "shop/cart.py").write_text("# uncommitted change\n")  # the snapshot must not see this
    return root, commit


def test_snapshot_reads_the_commit_not_the_working_tree(repo):
    root, commit = repo
    snap = RepoSnapshot(root, commit)
    assert snap.read("shop/cart.py") == CART
    assert snap.read("shop/missing.py") is None
    assert snap.read_many(["shop/cart.py", "shop/missing.py", "shop/users.py"]) == {
        "shop/cart.py": CART, "shop/users.py": "def login(name):\n    return name\n"}
    assert "tests/test_cart.py" in snap.files


def test_issue_words_rank_the_right_file_first_and_skip_tests_and_docs(repo):
    order, texts, _ = rank_files(RepoSnapshot(*repo), "Applying a coupon discount to the cart gives the wrong total")
    assert order[0] == "shop/cart.py"
    assert "tests/test_cart.py" not in texts and "docs/discounts.md" not in texts


def test_context_fits_the_budget_and_shows_the_relevant_window_of_a_big_file(repo):
    snap = RepoSnapshot(*repo)
    ctx = build_context(snap, "render_invoice_pdf crashes when rendering an invoice", budget_tokens=300)
    assert ctx.tokens <= 300
    assert count_tokens(ctx.render()) <= 300 * 1.15  # the estimate charges per piece, not per header byte
    shown = dict(ctx.files)
    assert "def render_invoice_pdf(invoice):" in shown["shop/invoice.py"]
    assert "\n...\n" in shown["shop/invoice.py"]  # windows, not the whole 800-line file
    assert len(shown["shop/invoice.py"].splitlines()) <= 3 * CHUNK_LINES + 3


def test_a_big_budget_shows_small_files_whole(repo):
    ctx = build_context(RepoSnapshot(*repo), "coupon discount cart", budget_tokens=20000)
    assert dict(ctx.files)["shop/cart.py"] == CART
    assert ctx.render().startswith("[start of shop/cart.py]\n")


def test_localized_files_go_first(repo):
    ctx = build_context(RepoSnapshot(*repo), "coupon discount cart", budget_tokens=20000, prefer=["shop/users.py"])
    assert ctx.paths[0] == "shop/users.py"


def test_parse_localization_answers():
    files = ["src/flask/cli.py", "src/flask/app.py", "src/other/app.py", "src/flask/blueprints.py"]
    assert parse_localization("1. src/flask/cli.py\n2. `blueprints.py`\n", files) == ["src/flask/cli.py", "src/flask/blueprints.py"]
    assert parse_localization("app.py", files) == []  # ambiguous bare name
    assert parse_localization("I am not sure.", files) == []
    assert parse_localization("The bug is in `flask.cli.routes_command`.", files) == ["src/flask/cli.py"]


def test_related_tests_of_touched_modules():
    files = ("src/flask/cli.py", "tests/test_cli.py", "tests/test_apps/cliapp/app.py", "sympy/core/tests/test_basic.py",
             "tests/migrations/tests.py", "tests/test_config.py")
    assert related_tests(["src/flask/cli.py"], files) == ["tests/test_cli.py"]
    assert related_tests(["sympy/core/basic.py"], files) == ["sympy/core/tests/test_basic.py"]
    assert related_tests(["django/db/migrations/__init__.py"], files) == ["tests/migrations/tests.py"]
    assert related_tests(["src/flask/json/provider.py"], files) == []
