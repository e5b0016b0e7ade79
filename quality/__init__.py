"""Call quality from bytes to scores: RTP/RTCP parsing, stream statistics, E-model."""
