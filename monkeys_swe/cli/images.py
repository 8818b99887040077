"""`monkeys-swe images build|list|prune`: the Docker snapshot images verification runs on."""
from __future__ import annotations

import click

from monkeys_swe.errors import UserError


@click.group(help="Build, list and prune Docker snapshot images.")
def command():
    pass


@command.command("build", help="Build the offline base images, and instance images for --instance ids.")
@click.option("--data", default="princeton-nlp/SWE-bench_Lite", show_default=True,
              help="SWE-bench instances: local JSONL(.gz) or a Hugging Face dataset name.")
@click.option("--instance", "instance_ids", multiple=True, help="Instance id (repeatable).")
@click.option("--repo-mirror", type=click.Path(file_okay=False), help="Directory of git mirrors.")
@click.option("--base-image", help="Base image for instance builds.")
@click.option("--force", is_flag=True, help="Rebuild instance images even when cached.")
def build(data, instance_ids, repo_mirror, base_image, force):
    from harness import images
    from harness.instance import DataError, load_instances
    from harness.repos import RepoError

    click.echo(f"base: {images.ensure_base_images()}")
    if not instance_ids:
        return
    try:
        for inst in load_instances(data, ids=instance_ids):
            tag = images.build_instance_image(inst, repo_mirror=repo_mirror, base_image=base_image, force=force)
            click.echo(f"{inst.instance_id}: {tag}")
    except (DataError, RepoError) as exc:
        raise UserError(str(exc)) from exc


@command.command("list", help="Images made by monkeys-swe.")
def list_():
    from rich.console import Console
    from rich.table import Table

    from harness import images

    table = Table()
    for col in ("tag", "kind", "instance", "MB", "created"):
        table.add_column(col)
    for row in images.list_images():
        table.add_row(", ".join(row["tags"]) or row["id"], row["kind"], row["instance"],
                      str(row["size_mb"]), row["created"][:19])
    Console().print(table)


@command.command("prune", help="Remove leftover containers and instance images (--all: base images too).")
@click.option("--all", "include_base", is_flag=True, help="Also remove the offline base images.")
def prune(include_base):
    from harness import images

    result = images.prune(include_base=include_base)
    click.echo(f"removed {result['containers']} containers, {len(result['images'])} images")
