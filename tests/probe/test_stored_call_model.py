"""A stored AMR-WB call window carries the model that scored it: `g107.1`, with R on its 0-129 scale.

The call is a SIP-signalled AMR-WB call (dynamic PT 104, 16 kHz, 61-byte payloads: one 23.85-kbit/s frame in
RFC 4867's bandwidth-efficient layout) fed as header-only frames, as the kernel filter keeps them, to the call
tracker the agent runs, turned into `call` samples by the agent's own `call_sample`, and stored in a real spool
and a real influxd through the V1Writer.
G.113 Appendix IV Table IV.1 rates AMR-WB 23.85 at Ie,wb 8, so R = 129 - 8 = 121 and MOS is G.107 Annex B's
cubic at 121 / 1.29 (G.107.1 Annex A); a G.711 call beside it stays `g107`.
"""

from __future__ import annotations

from homeshore.probe.agent_samples import call_sample, common_tags
from homeshore.planning.spool_read import spool_samples
from homeshore.quality.calls import CallTracker
from tests.cli.stored import influx_holding, spool_holding
from tests.quality.synthetic import rtp_packet, sdp_offer, sip_message, udp_frame
from tests.quality.test_calls import HERE, HERE_PORT, IN_SSRC, LOCAL, SALT, THERE, THERE_PORT, T0, feed, snapped

TAGS = common_tags("h-7", "NG5")
R_AMR_WB_2385 = 129.0 - 8.0
MOS_AMR_WB_2385 = round(1 + 0.035 * (R_AMR_WB_2385 / 1.29)
                        + (R_AMR_WB_2385 / 1.29) * (R_AMR_WB_2385 / 1.29 - 60) * (100 - R_AMR_WB_2385 / 1.29) * 7e-6,
                        2)


def call_frames(call_id: str, pt: int, rtpmap: str, payload_bytes: int, ts_step: int, port_offset: int):
    offer = sdp_offer(HERE, HERE_PORT + port_offset, str(pt), rtpmap)
    answer = sdp_offer(THERE, THERE_PORT + port_offset, str(pt), rtpmap)
    frames = [
        (T0 - 2.0, udp_frame(HERE, 5060, THERE, 5060, sip_message("INVITE sip:a@example.net SIP/2.0", call_id,
                                                                   "1 INVITE", offer))),
        (T0 - 1.0, udp_frame(THERE, 5060, HERE, 5060, sip_message("SIP/2.0 200 OK", call_id, "1 INVITE", answer))),
    ]  # fmt: skip
    for n in range(25 * 50):
        packet = rtp_packet(n, ts_step * n, IN_SSRC + port_offset, pt=pt, payload=bytes(payload_bytes))
        # As live capture delivers it: the kernel keeps the RTP header only, the mode comes from the UDP length.
        frames.append((T0 + 0.02 * n, snapped(udp_frame(THERE, THERE_PORT + port_offset, HERE,
                                                         HERE_PORT + port_offset, packet))))
    return frames


def stored_samples():
    frames = call_frames("amrwb@example.com", 104, "a=rtpmap:104 AMR-WB/16000\n", 61, 320, 0)
    frames += call_frames("pcma@example.com", 8, "a=rtpmap:8 PCMA/8000\n", 160, 160, 100)
    calls = feed(CallTracker(LOCAL, salt=SALT), frames, until_s=T0 + 30)
    return [call_sample(c, TAGS, "wired") for c in calls if c.direction == "inbound"]


def test_stored_amr_wb_windows_carry_g107_1_in_the_spool_and_in_influxdb(tmp_path):
    samples = stored_samples()
    windows = {(s.tags["codec"], s.tags["phase"]) for s in samples}
    assert {("AMR-WB", "window"), ("PCMA", "window")} <= windows
    spooled, unreadable = spool_samples(spool_holding(tmp_path / "spool.sqlite3", samples), ("call",), "")
    assert unreadable == 0 and len(spooled) == len(samples)
    by_codec = {}
    for sample in spooled:
        if sample.tags["phase"] == "window":
            by_codec.setdefault(sample.tags["codec"], set()).add(
                (sample.fields.get("mos_model"), sample.fields.get("r_factor"), sample.fields.get("mos")))
    assert by_codec["AMR-WB"] == {("g107.1", R_AMR_WB_2385, MOS_AMR_WB_2385)}
    assert {model for model, _r, _mos in by_codec["PCMA"]} == {"g107"}
    with influx_holding(samples) as server:
        answer = server.query('SELECT "r_factor", "mos", "mos_model", "mos_note" FROM "call" '
                              "WHERE \"phase\" = 'window' GROUP BY \"codec\"", db="homeshore")
    series = {s["tags"]["codec"]: s for s in answer["results"][0]["series"]}
    assert series["AMR-WB"]["columns"] == ["time", "r_factor", "mos", "mos_model", "mos_note"]
    assert {tuple(row[1:]) for row in series["AMR-WB"]["values"]} == {
        (R_AMR_WB_2385, MOS_AMR_WB_2385, "g107.1", None)}
    assert {row[3] for row in series["PCMA"]["values"]} == {"g107"}
    # The MOS panels' query is unchanged: mean(mos) over the same points still reads the MOS alone.
    with influx_holding(samples) as server:
        mean = server.query('SELECT mean("mos") FROM "call" WHERE "codec" = \'AMR-WB\'', db="homeshore")
    assert mean["results"][0]["series"][0]["values"][0][1] == MOS_AMR_WB_2385
