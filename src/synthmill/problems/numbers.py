"""Number theory (gcd, lcm, modular arithmetic, primes) and sequences."""

from __future__ import annotations

import math
import random

from synthmill.problems.base import Problem, fmt, scale


def gcd(rng: random.Random, difficulty: int) -> Problem:
    """The greatest common divisor of two or three numbers with a planted common factor."""
    factor = rng.randint(2, scale(difficulty, 6, 12, 30, 60, 120))
    count = 2 if difficulty < 4 else 3
    nums = [factor * rng.randint(1, scale(difficulty, 6, 10, 20, 40, 80)) for _ in range(count)]
    question = f"What is the greatest common divisor of {', '.join(map(str, nums))}?"
    return Problem(question, str(math.gcd(*nums)), "number_theory.gcd", difficulty)


def lcm(rng: random.Random, difficulty: int) -> Problem:
    """The least common multiple of two or three numbers."""
    count = 2 if difficulty < 4 else 3
    nums = [rng.randint(2, scale(difficulty, 10, 20, 40, 60, 100)) for _ in range(count)]
    question = f"What is the least common multiple of {', '.join(map(str, nums))}?"
    return Problem(question, str(math.lcm(*nums)), "number_theory.lcm", difficulty)


def modular(rng: random.Random, difficulty: int) -> Problem:
    """A remainder, a modular power, or a modular inverse."""
    m = rng.randint(3, scale(difficulty, 10, 20, 50, 100, 1000))
    if difficulty <= 2:
        a = rng.randint(m, m * scale(difficulty, 10, 100))
        question = f"What is the remainder when {a} is divided by {m}?"
        return Problem(question, str(a % m), "number_theory.modular", difficulty)
    if difficulty == 3 or rng.random() < 0.5:
        a, e = rng.randint(2, 30), rng.randint(5, scale(difficulty, 10, 10, 20, 100, 1000))
        question = f"Compute {a}^{e} mod {m} (the remainder in 0..{m - 1})."
        return Problem(question, str(pow(a, e, m)), "number_theory.modular", difficulty)
    while True:
        a = rng.randint(2, m - 1)
        if math.gcd(a, m) == 1:
            break
    question = f"Find the inverse of {a} modulo {m}: the x in 0..{m - 1} with {a}x = 1 (mod {m})."
    return Problem(question, str(pow(a, -1, m)), "number_theory.modular", difficulty)


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % p for p in range(2, math.isqrt(n) + 1))


def prime(rng: random.Random, difficulty: int) -> Problem:
    """Count primes up to n, or give the largest prime factor of n."""
    bound = scale(difficulty, 30, 100, 500, 2000, 10000)
    n = rng.randint(10, bound)
    if rng.random() < 0.5:
        count = sum(1 for k in range(2, n + 1) if _is_prime(k))
        question = f"How many prime numbers are less than or equal to {n}?"
        return Problem(question, str(count), "number_theory.prime", difficulty)
    largest = max(p for p in range(2, n + 1) if n % p == 0 and _is_prime(p))
    question = f"What is the largest prime factor of {n}?"
    return Problem(question, str(largest), "number_theory.prime", difficulty)


def sequence(rng: random.Random, difficulty: int) -> Problem:
    """The next term, or the n-th term, of an arithmetic, geometric or quadratic sequence."""
    kind = rng.choice(["arithmetic", "geometric", "quadratic"][: scale(difficulty, 1, 2, 3)])
    start = rng.randint(-10 if difficulty > 2 else 1, 20) or 1
    step = rng.randint(2, scale(difficulty, 5, 9, 12, 15, 20))
    if kind == "arithmetic":
        terms = [start + step * i for i in range(12)]
    elif kind == "geometric":
        terms = [start * rng.choice([2, 3, -2]) ** i for i in range(12)][:8]
    else:
        a = rng.randint(1, 3)
        terms = [a * i * i + step * i + start for i in range(12)]
    shown = scale(difficulty, 5, 5, 4, 4, 4)
    ask = shown if difficulty < 4 else min(len(terms) - 1, shown + rng.randint(2, 3))
    which = "next term" if ask == shown else f"term number {ask + 1}"
    listing = ", ".join(map(str, terms[:shown]))
    question = f"The sequence {listing}, ... follows a simple rule. What is the {which}?"
    return Problem(question, fmt(terms[ask]), "sequence", difficulty)
