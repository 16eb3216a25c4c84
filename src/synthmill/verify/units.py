"""Units an answer may carry, and exact conversions between units of one dimension.

"13 cm" and "0.13 m" are one answer; "13 cm" and "13 m" are not. Only units in this
table convert; an unknown unit word never matches a different one.
"""

from __future__ import annotations

from fractions import Fraction

# canonical name -> (dimension, size in the dimension's base unit), plus spellings
_UNITS: dict[str, tuple[str, Fraction, tuple[str, ...]]] = {
    "mm": ("length", Fraction(1, 1000), ("millimetre", "millimeter", "millimetres", "millimeters")),
    "cm": ("length", Fraction(1, 100), ("centimetre", "centimeter", "centimetres", "centimeters")),
    "m": ("length", Fraction(1), ("metre", "meter", "metres", "meters")),
    "km": ("length", Fraction(1000), ("kilometre", "kilometer", "kilometres", "kilometers")),
    "mg": ("mass", Fraction(1, 1000), ("milligram", "milligrams")),
    "g": ("mass", Fraction(1), ("gram", "grams")),
    "kg": ("mass", Fraction(1000), ("kilogram", "kilograms", "kilo", "kilos")),
    "t": ("mass", Fraction(10**6), ("tonne", "tonnes", "ton", "tons")),
    "s": ("time", Fraction(1), ("sec", "secs", "second", "seconds")),
    "min": ("time", Fraction(60), ("mins", "minute", "minutes")),
    "h": ("time", Fraction(3600), ("hr", "hrs", "hour", "hours")),
    "day": ("time", Fraction(86400), ("days",)),
    "ml": ("volume", Fraction(1, 1000), ("mL", "millilitre", "milliliter", "millilitres")),
    "l": ("volume", Fraction(1), ("L", "litre", "liter", "litres", "liters")),
    "degree": ("angle", Fraction(1), ("degrees", "deg")),
    "dollar": ("money", Fraction(1), ("dollars", "usd")),
    "cent": ("money", Fraction(1, 100), ("cents",)),
    "cm^2": ("area", Fraction(1, 10**4), ("cm^{2}", "cm2")),
    "m^2": ("area", Fraction(1), ("m^{2}", "m2")),
    "cm^3": ("volume", Fraction(1, 1000), ("cm^{3}", "cc")),
    "km/h": ("speed", Fraction(1), ("kmh", "kph")),
    "unit": ("count", Fraction(1), ("units",)),
}
_NAMES = {
    spelling.lower(): name
    for name, (_, _, spellings) in _UNITS.items()
    for spelling in (name, *spellings)
}


def unit_name(word: str) -> str | None:
    """The canonical name of a unit spelling ("metres" -> "m"), or None when unknown."""
    return _NAMES.get(" ".join(word.split()).lower())


def convert(value: Fraction, unit: str, to: str) -> Fraction | None:
    """`value` in `unit` expressed in `to`, or None when the units are unknown or differ."""
    if unit not in _UNITS or to not in _UNITS:
        return None
    (dim, size, _), (to_dim, to_size, _) = _UNITS[unit], _UNITS[to]
    return value * size / to_size if dim == to_dim else None
