"""``segfix models`` (parameter counts of every model) and ``segfix convert-openseg`` (an authors'
SegFix checkpoint -> a project checkpoint)."""
from __future__ import annotations

import click

#: The paper's Table 2 (SegFix model sizes, millions of parameters).
PAPER_TABLE2_M = {"hrnet_w18": 9.6, "hrnet_w32": 29.4, "hrnet2x20": 47.3}


@click.command("models")
def models_cmd():
    """Print every model's parameter count (backbone, and with the heads) beside the paper's Table 2."""
    from segfix_train.models import BACKBONES, create_model

    click.echo(f"{'model':<11} {'backbone':>12} {'+ segfix heads':>15} {'+ openseg heads':>16} {'paper':>7}")
    for name in BACKBONES:
        ours = create_model(name)
        theirs = create_model(name, head="openseg", head_act="leaky_relu", align_corners=True)
        nb = sum(p.numel() for p in ours.backbone.parameters())
        n1 = sum(p.numel() for p in ours.parameters())
        n2 = sum(p.numel() for p in theirs.parameters())
        paper = f"{PAPER_TABLE2_M[name]:.1f} M" if name in PAPER_TABLE2_M else "-"
        click.echo(f"{name:<11} {nb:>12,} {n1:>15,} {n2:>16,} {paper:>7}")


@click.command("convert-openseg")
@click.argument("authors_file", type=click.Path(dir_okay=False))
@click.argument("out_file", type=click.Path(dir_okay=False))
@click.option("--model", default=None, help="Architecture [from the file's config_dict or keys].")
@click.option("--abn-weight", type=click.Choice(["abs-eps", "as-stored"]), default="abs-eps", show_default=True,
              help="InPlace-ABN files: scale by |weight| + 1e-5 (as InPlace-ABN does) or by the stored weight.")
def convert_openseg_cmd(authors_file, out_file, model, abn_weight):
    """Convert an authors' SegFix checkpoint (openseg.pytorch) into a segfix checkpoint, once.

    The output (with OUT_FILE.sha256 beside it) loads with `segfix predict --checkpoint OUT_FILE`
    without the mapping, and records the architecture (their head, align_corners=True) and the
    source file's SHA-256.
    """
    from segfix_train.checkpoint import save_checkpoint
    from segfix_train.models.openseg_import import build_openseg_model, converted_payload, read_openseg_checkpoint

    ck = read_openseg_checkpoint(authors_file, model=model, abn_scale=abn_weight == "abs-eps")
    net = build_openseg_model(ck)
    save_checkpoint(out_file, converted_payload(net, ck))  # with its SHA-256 digest beside it
    click.echo(f"wrote {out_file}: {ck.spec['name']}, {ck.spec['num_directions']} directions, "
               f"{ck.bn_layout} layout (architecture from {ck.arch_source})")
