"""`homeshore analyze CAPTURE...`: call quality of every RTP stream in capture files.

The engine and rich are imported when the command runs, not when the CLI starts: a script calling
`analyze --json` on many small files should not pay for the table renderer or the other commands' modules.
"""

from __future__ import annotations

import json

import click

from homeshore.cli.status import ExitStatus


@click.command()
@click.argument("captures", nargs=-1, required=True, type=click.Path(dir_okay=True, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of tables.")
@click.option("--windows", is_flag=True, help="Also show the 10-second windows of every stream.")
@click.option("--jitter-buffer", default="adaptive", show_default=True, metavar="adaptive|fixed:MS",
              help="Receiver playout emulated for discards: adaptive, or a fixed depth in ms (e.g. fixed:60).")
@click.pass_context
def analyze(ctx: click.Context, captures: tuple[str, ...], as_json: bool, windows: bool, jitter_buffer: str) -> None:
    """Score every RTP stream in pcap/pcapng CAPTURES: loss, jitter, bursts, MOS (ITU-T G.107).

    Exit code 0 when every file was analysed, 2 when any could not be read.
    """
    from homeshore.quality.capture import analyze_capture
    from homeshore.quality.export import capture_dict
    from homeshore.quality.jitterbuffer import parse_spec
    from homeshore.quality.pcapfile import CaptureError

    try:
        parse_spec(jitter_buffer)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--jitter-buffer") from None
    results, failed = [], False
    for path in captures:
        try:
            results.append(analyze_capture(path, jitter_buffer=jitter_buffer))
        except CaptureError as error:
            click.echo(f"homeshore analyze: {error}", err=True)
            failed = True
    if as_json:
        click.echo(json.dumps({"captures": [capture_dict(c, windows=windows) for c in results]}, indent=1))
    else:
        from rich.console import Console

        from homeshore.cli.tables import streams_table, windows_table

        console = Console()
        for capture in results:
            for warning in capture.warnings:
                console.print(f"[yellow]warning:[/] {capture.name}: {warning}")
            console.print(streams_table(capture, console.width))
            if windows:
                console.print(windows_table(capture, console.width))
    ctx.exit(ExitStatus.CANNOT_MEASURE if failed else ExitStatus.OK)
