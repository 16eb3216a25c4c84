"""Number theory (gcd, lcm, modular arithmetic, primes) and sequences."""

from __future__ import annotations

import math
import random
from functools import lru_cache

from synthmill.problems.base import Problem, coin, fmt, scale


def gcd(rng: random.Random, difficulty: int) -> Problem:
    """The greatest common divisor of two or three numbers with a planted common factor."""
    factor = rng.randint(2, scale(difficulty, 6, 12, 30, 60, 120))
    count = 2 if difficulty < 4 else 3
    multiples = rng.sample(range(1, scale(difficulty, 6, 10, 20, 40, 80) + 1), count)
    nums = sorted(factor * m for m in multiples)  # distinct: never gcd(18, 18)
    question = f"What is the greatest common divisor of {', '.join(map(str, nums))}?"
    return Problem(question, str(math.gcd(*nums)), "number_theory.gcd", difficulty)


def lcm(rng: random.Random, difficulty: int) -> Problem:
    """The least common multiple of two or three numbers."""
    count = 2 if difficulty < 4 else 3
    nums = sorted(rng.sample(range(2, scale(difficulty, 10, 20, 40, 60, 100) + 1), count))
    question = f"What is the least common multiple of {', '.join(map(str, nums))}?"
    return Problem(question, str(math.lcm(*nums)), "number_theory.lcm", difficulty)


def modular(rng: random.Random, difficulty: int) -> Problem:
    """A remainder, a modular power, or a modular inverse."""
    m = rng.randint(3, scale(difficulty, 10, 20, 50, 100, 1000))
    if difficulty <= 2:
        a = rng.randint(m, m * scale(difficulty, 10, 100))
        question = f"What is the remainder when {a} is divided by {m}?"
        return Problem(question, str(a % m), "number_theory.modular", difficulty)
    if difficulty == 3 or coin(rng):
        a, e = rng.randint(2, 30), rng.randint(5, scale(difficulty, 10, 10, 20, 100, 1000))
        question = f"Compute {a}^{e} mod {m} (the remainder in 0..{m - 1})."
        return Problem(question, str(pow(a, e, m)), "number_theory.modular", difficulty)
    a = rng.choice([a for a in range(2, m) if math.gcd(a, m) == 1] or [1])
    question = f"Find the inverse of {a} modulo {m}: the x in 0..{m - 1} with {a}x = 1 (mod {m})."
    return Problem(question, str(pow(a, -1, m)), "number_theory.modular", difficulty)


@lru_cache(maxsize=8)
def _primes(upto: int) -> list[int]:
    """The primes <= upto (a sieve; cached, the bounds are few)."""
    sieve = bytearray([1]) * (upto + 1)
    sieve[:2] = b"\x00\x00"
    for p in range(2, math.isqrt(upto) + 1):
        if sieve[p]:
            sieve[p * p :: p] = bytearray(len(range(p * p, upto + 1, p)))
    return [p for p in range(upto + 1) if sieve[p]]


def prime(rng: random.Random, difficulty: int) -> Problem:
    """Count primes up to n, or give the largest prime factor of n."""
    bound = scale(difficulty, 30, 100, 500, 2000, 10000)
    n = rng.randint(10, bound)
    primes = _primes(bound)
    if coin(rng):
        count = sum(1 for p in primes if p <= n)
        question = f"How many prime numbers are less than or equal to {n}?"
        return Problem(question, str(count), "number_theory.prime", difficulty)
    largest = max(p for p in primes if p <= n and n % p == 0)
    question = f"What is the largest prime factor of {n}?"
    return Problem(question, str(largest), "number_theory.prime", difficulty)


def sequence(rng: random.Random, difficulty: int) -> Problem:
    """The next term, or the n-th term, of an arithmetic, geometric or quadratic sequence.

    One rule per problem: the geometric ratio is drawn once (it was drawn per term).
    """
    kind = rng.choice(["arithmetic", "geometric", "quadratic"][: scale(difficulty, 1, 2, 3)])
    start = rng.choice([v for v in range(-10 if difficulty > 2 else 1, 21) if v != 0])
    step = rng.randint(2, scale(difficulty, 5, 9, 12, 15, 20))
    if kind == "arithmetic":
        terms = [start + step * i for i in range(12)]
    elif kind == "geometric":
        ratio = rng.choice([2, 3, -2])
        terms = [start * ratio**i for i in range(8)]
    else:
        a = rng.randint(1, 3)
        terms = [a * i * i + step * i + start for i in range(12)]
    shown = scale(difficulty, 5, 5, 4, 4, 4)
    ask = shown if difficulty < 4 else min(len(terms) - 1, shown + rng.randint(2, 3))
    which = "next term" if ask == shown else f"term number {ask + 1}"
    listing = ", ".join(map(str, terms[:shown]))
    question = f"The sequence {listing}, ... follows a simple rule. What is the {which}?"
    return Problem(question, fmt(terms[ask]), "sequence", difficulty)
