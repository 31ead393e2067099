"""``segfix``: train the SegFix model, predict offsets, refine label maps, evaluate."""
from __future__ import annotations

import click

from cli._errors import SegfixGroup
from segfix_data import __version__


@click.group(cls=SegfixGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="segfix")
def main() -> None:
    """Train SegFix, predict boundary offsets, refine any model's predictions and score them."""


from cli.refine_cmd import refine  # noqa: E402
main.add_command(refine)
from cli.eval_cmd import eval_  # noqa: E402
main.add_command(eval_)
from cli.train_cmd import train_cmd  # noqa: E402
main.add_command(train_cmd)
from cli.predict_cmd import predict_cmd  # noqa: E402
main.add_command(predict_cmd)
from cli.models_cmd import convert_openseg_cmd, models_cmd  # noqa: E402
main.add_command(models_cmd)
main.add_command(convert_openseg_cmd)

if __name__ == "__main__":  # pragma: no cover
    main()
