"""The reflector's admission decision (SourceLimiter), pure: requests and times in, outcomes out."""

from __future__ import annotations

from homeshore.server.reflector_limits import ReflectorLimits, SourceLimiter


def outcomes(limiter: SourceLimiter, requests) -> list[str]:
    return [limiter.admit(source, test, size, now) for source, test, size, now in requests]


def test_a_burst_is_answered_then_the_bucket_refills_at_the_rate() -> None:
    limiter = SourceLimiter(ReflectorLimits(packets_per_s=10, burst_packets=5))
    seen = outcomes(limiter, [("h", 1, 172, 0.0)] * 7)
    assert seen == ["replied"] * 5 + ["rate_limited"] * 2
    # 0.25 s later 2.5 tokens came back: two more answered, the third refused
    assert outcomes(limiter, [("h", 1, 172, 0.25)] * 3) == ["replied", "replied", "rate_limited"]


def test_each_source_address_has_its_own_bucket() -> None:
    limiter = SourceLimiter(ReflectorLimits(packets_per_s=1, burst_packets=1))
    assert outcomes(limiter, [("a", 1, 100, 0.0), ("a", 1, 100, 0.0), ("b", 1, 100, 0.0)]) == \
        ["replied", "rate_limited", "replied"]


def test_concurrent_tests_per_source_are_capped_until_one_goes_idle() -> None:
    limiter = SourceLimiter(ReflectorLimits(tests_per_source=2, test_idle_s=10))
    assert outcomes(limiter, [("h", 1, 100, 0.0), ("h", 2, 100, 0.0), ("h", 3, 100, 0.0)]) == \
        ["replied", "replied", "too_many_tests"]
    # test 1 keeps going; test 2 was last seen at 0 s, so at 11 s it no longer counts and test 3 may start
    assert outcomes(limiter, [("h", 1, 100, 5.0), ("h", 1, 100, 10.5), ("h", 3, 100, 11.0)]) == ["replied"] * 3


def test_a_test_stops_being_answered_at_its_byte_budget() -> None:
    limiter = SourceLimiter(ReflectorLimits(bytes_per_test=1000))
    seen = outcomes(limiter, [("h", 1, 400, i * 0.01) for i in range(4)])
    assert seen == ["replied", "replied", "test_bytes_exceeded", "test_bytes_exceeded"]
    assert outcomes(limiter, [("h", 2, 400, 0.1)]) == ["replied"]  # another test has its own budget


def test_the_source_table_is_bounded_and_pruning_frees_idle_sources() -> None:
    limits = ReflectorLimits(max_sources=2, test_idle_s=1, packets_per_s=100, burst_packets=10)
    limiter = SourceLimiter(limits)
    assert outcomes(limiter, [("a", 1, 100, 0.0), ("b", 1, 100, 0.0), ("c", 1, 100, 0.5)]) == \
        ["replied", "replied", "too_many_sources"]
    # two seconds on, a and b are idle: the full table is pruned to make room for c
    assert outcomes(limiter, [("c", 1, 100, 2.0)]) == ["replied"]
