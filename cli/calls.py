"""`homeshore calls`: the calls in progress on this machine, live, per direction, refreshed every second.

(Capture, engine and rich are imported when the command runs: the CLI starts without them.)
"""

from __future__ import annotations

import json
import sys

import click

from homeshore.cli.errors import error_line
from homeshore.cli.status import ExitStatus


@click.command()
@click.option("--iface", metavar="IF", default=None, help="Capture on this interface only (default: every one up).")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None, metavar="S",
              help="Stop after S seconds (default: run until Ctrl-C).")
@click.option("--filter", "user_filter", metavar="EXPR", default=None,
              help="Also apply this BPF filter expression (tcpdump syntax), e.g. 'host 10.0.0.5'.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line per 10-second window and call end.")
@click.pass_context
def calls(ctx: click.Context, iface: str | None, duration: float | None, user_filter: str | None,
          as_json: bool) -> None:
    """Watch the calls in progress: per direction, codec, packets, loss, jitter, MOS and its trend.

    Only packet headers are captured (never audio). Needs root or CAP_NET_RAW. Exit code 0 at the end of
    --duration, 130 on Ctrl-C, 2 when capture cannot start.
    """
    from rich.console import Console
    from rich.live import Live

    from homeshore.cli.tables import calls_table
    from homeshore.quality.bpf import FilterError
    from homeshore.quality.calls import CallTracker
    from homeshore.quality.live import CaptureError, local_addresses, open_capture
    from homeshore.quality.monitor import monitor_calls

    try:
        capture = open_capture(iface, user_filter)
    except (CaptureError, FilterError) as error:
        click.echo(error_line(ctx.command_path, str(error)), err=True)
        ctx.exit(ExitStatus.CANNOT_MEASURE)
    tracker = CallTracker(local_addresses())
    with capture:
        click.echo(f"homeshore calls: capturing packet headers on {', '.join(capture.interfaces)}", err=True)
        if as_json:
            try:
                monitor_calls(capture, tracker, duration_s=duration, on_samples=_print_json)
            finally:  # also on Ctrl-C: what was seen, and what the kernel had to drop
                stats = capture.stats()
                click.echo(f"homeshore calls: {stats.packets} packets, {stats.drops} dropped by the kernel", err=True)
        else:
            console = Console()
            shown = 0  # summaries of ended calls printed so far

            def show_ended() -> None:
                nonlocal shown
                for summary in tracker.ended[shown:]:
                    console.print(ended_line(summary), soft_wrap=True, highlight=False)
                shown = len(tracker.ended)

            try:
                with Live(calls_table([], None, capture.interfaces), console=console, auto_refresh=False) as live:
                    def refresh(tracker: CallTracker, stats) -> None:
                        show_ended()  # printed above the live table the moment the call ends
                        live.update(calls_table(tracker.calls_in_progress(), stats, capture.interfaces),
                                    refresh=True)

                    monitor_calls(capture, tracker, duration_s=duration, on_tick=refresh)
            finally:
                show_ended()  # the calls the end of the watch closed
    ctx.exit(ExitStatus.OK)


def ended_line(summary) -> str:
    """One line for a call that ended (a `CallSummary`): why, how long, and per direction its MOS, loss and
    jitter (RFC 3550 A.8, last and highest) over the whole call."""
    def figure(value, unit: str = "") -> str:
        return "-" if value is None else f"{value:.2f}{unit}"

    directions = "; ".join(f"{s.direction} MOS {figure(s.mos)}, loss {figure(s.loss_pct, ' %')}, "
                           f"jitter {figure(s.jitter_ms, ' ms')} (max {figure(s.jitter_max_ms, ' ms')}), "
                           f"{s.packets} packets" for s in summary.samples)
    return (f"call {summary.call[:8]} ended ({summary.reason}) after "
            f"{summary.ended_s - summary.started_s:.1f} s: {directions}")


def _print_json(samples) -> None:
    from homeshore.quality.export import sample_dict

    for sample in samples:
        sys.stdout.write(json.dumps(sample_dict(sample)) + "\n")
    sys.stdout.flush()
