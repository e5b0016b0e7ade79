"""How figures read in advice: at most FIGURE_DECIMALS decimals, so the text shows the number that was compared."""

from __future__ import annotations

from homeshore.planning.policy import FIGURE_DECIMALS


def figure(value: float) -> str:
    """9.5 -> "9.5", 600.0 -> "600", 7.9994 -> "7.999"."""
    text = f"{value:.{FIGURE_DECIMALS}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def quantity(value: float, unit: str) -> str:
    """A figure with its unit as English writes it: "30 ms", "1%", and a bare MOS."""
    if unit == "%":
        return f"{figure(value)}%"
    if unit == "MOS":
        return figure(value)
    return f"{figure(value)} {unit}"
