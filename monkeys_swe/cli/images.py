"""`monkeys-swe images build|list|prune`: the Docker snapshot images verification runs on."""
from __future__ import annotations

import click

from harness.instance import DEFAULT_DATASET
from monkeys_swe.cli.options import engine_options
from monkeys_swe.errors import UserError


@click.group(help="Build, list and prune Docker snapshot images.")
def command():
    pass


@command.command("build", help="Build the offline base images, and instance images for --instance ids.")
@click.option("--data", default=DEFAULT_DATASET, show_default=True,
              help="SWE-bench instances: local JSONL(.gz) or a Hugging Face dataset name.")
@click.option("--instance", "instance_ids", multiple=True, help="Instance id (repeatable).")
@click.option("--repo-mirror", type=click.Path(file_okay=False), help="Directory of git mirrors.")
@click.option("--base-image", help="Base image for instance builds.")
@click.option("--force", is_flag=True, help="Rebuild instance images even when cached.")
@click.option("--python", "pythons", multiple=True, help="Also build the offline base for this Python "
              "(3.9, 3.11, 3.13; another version is compiled from a CPython source in --repo-mirror, "
              "else its nearest base). Repeatable.")
@engine_options
def build(data, instance_ids, repo_mirror, base_image, force, pythons):
    from harness import images
    from harness.base_images import ensure_python_base, ensure_source_python, python_base_for
    from harness.instance import DataError, load_instances
    from harness.repos import RepoError

    click.echo(f"base: {images.ensure_base_images()}")
    for wanted in pythons:
        try:
            near = python_base_for(wanted)
            tag = (near != wanted and ensure_source_python(wanted, repo_mirror)) or ensure_python_base(near)
            click.echo(f"base for Python {wanted}: {tag}")
        except ValueError as exc:
            raise UserError(str(exc)) from exc
    if not instance_ids:
        return
    try:
        for inst in load_instances(data, ids=instance_ids):
            tag = images.build_instance_image(inst, repo_mirror=repo_mirror, base_image=base_image, force=force)
            click.echo(f"{inst.instance_id}: {tag}")
    except (DataError, RepoError) as exc:
        raise UserError(str(exc)) from exc


@command.command("list", help="Images made by monkeys-swe, with disk per image (shared vs unique bytes).")
@engine_options
def list_():
    from rich.console import Console
    from rich.table import Table

    from harness import images

    rows = images.list_images()
    checked = _validations()
    table = Table()
    table.add_column("tag", overflow="fold")
    for col in ("kind", "instance", "python", "MB", "shared MB", "unique MB", "created", "validation"):
        table.add_column(col, overflow="fold" if col in ("instance", "validation") else "ellipsis")
    for row in sorted(rows, key=lambda r: (r["kind"], r["tags"])):
        table.add_row(", ".join(row["tags"]) or row["id"], row["kind"], row["instance"], row["python"],
                      str(row["size_mb"]), str(row["shared_mb"]), str(row["unique_mb"]), row["created"][:19],
                      "; ".join(checked.get(t, "") for t in row["tags"] if t in checked))
    Console().print(table)
    click.echo(f"{len(rows)} images; all image layers on the daemon: {images.layers_mb()} MB; "
               f"instance images: {sum(r['kind'] == 'instance' for r in rows)} "
               f"(median unique {_median([r['unique_mb'] for r in rows if r['kind'] == 'instance'])} MB)")


def _validations(root=None) -> dict[str, str]:
    """image tag -> what its newest validation found (harness.health): healthy or not, and the
    tests whose status varied between its repeated runs (`root`: the records' folder)."""
    from harness import health, repos

    found = {}
    for tag, records in health.Store(root or repos.CACHE / "validations").by_image().items():
        h = max(records, key=lambda r: r.checked_at)
        state = "healthy" if h.healthy else f"cannot judge ({h.unjudged()})"
        runs = ", ".join(f"{k} x{len(v)}" for k, v in h.runs.items())
        flaky = f"flaky: {', '.join(sorted(h.flaky))}" if h.flaky else ("no flaky test" if runs and h.healthy else "")
        found[tag] = "; ".join(filter(None, [state, runs, flaky]))
    return found


def _median(xs: list[int]) -> int:
    return sorted(xs)[len(xs) // 2] if xs else 0


@command.command("prune", help="Remove leftover containers, and instance and environment images no "
                                "container uses (--all: base images too). Never forced.")
@click.option("--all", "include_base", is_flag=True, help="Also remove the offline base images.")
@click.option("--repo", help="Only this repository's images (owner/name).")
@engine_options
def prune(include_base, repo):
    from harness import images

    result = images.prune(include_base=include_base, repo=repo)
    click.echo(f"removed {result['containers']} containers, {len(result['images'])} images; "
               f"kept {len(result['kept'])} in use")
