"""``segfix-gt``: ground-truth targets for SegFix (build, inspect, verify, export, example data)."""
from __future__ import annotations

import click

from cli._errors import SegfixGroup
from segfix_data import __version__


@click.group(cls=SegfixGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="segfix-gt")
def main() -> None:
    """Turn a dataset's label maps into SegFix ground-truth targets.

    Targets are the distance to the nearest other label, the boundary band (distance <= gamma)
    and the direction from each boundary pixel into its object's interior
    (see the README for the exact definitions).
    """


from cli.example_cmd import example_cmd  # noqa: E402

main.add_command(example_cmd)
from cli.build_cmd import build_cmd  # noqa: E402
main.add_command(build_cmd)
from cli.verify_cmd import verify_cmd  # noqa: E402
main.add_command(verify_cmd)
from cli.inspect_cmd import inspect_cmd  # noqa: E402
main.add_command(inspect_cmd)
from cli.export_cmd import export_cmd  # noqa: E402
main.add_command(export_cmd)

if __name__ == "__main__":  # pragma: no cover
    main()
