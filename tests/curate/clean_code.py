"""Clean template code: common idioms (Euclid's gcd, is_prime loops) written the usual
way, sharing phrases with HumanEval's canonical solutions but copied from none of them."""

# ruff: noqa: E501

CLEAN_CODE = [
    "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n",
    'def gcd(a: int, b: int) -> int:\n    """Greatest common divisor by Euclid\'s algorithm."""\n    while b:\n        a, b = b, a % b\n    return a\n',
    "def lcm(a, b):\n    return a * b // gcd(a, b)\n",
    "def is_prime(n):\n    if n < 2:\n        return False\n    for k in range(2, n - 1):\n        if n % k == 0:\n            return False\n    return True\n",
    "def is_prime(num):\n    if num == 1 or num == 0:\n        return False\n    if num == 2:\n        return True\n    for i in range(2, num):\n        if num % i == 0:\n            return False\n    return True\n",
    "def is_prime(n):\n    for j in range(2, n):\n        if n % j == 0:\n            return False\n    return True\n",
    "def isPrime(n):\n    for i in range(2, int(n**0.5) + 1):\n        if n % i == 0:\n            return False\n    return True\n",
    "def primes_below(n):\n    primes = []\n    for i in range(2, n):\n        is_prime = True\n        for j in range(2, i):\n            if i % j == 0:\n                is_prime = False\n                break\n        if is_prime:\n            primes.append(i)\n    return primes\n",
    "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
    "def fib(n: int):\n    if n == 0:\n        return 0\n    if n == 1:\n        return 1\n    return fib(n - 1) + fib(n - 2)\n",
    "def factorial(n):\n    result = 1\n    for i in range(2, n + 1):\n        result *= i\n    return result\n",
    "def is_palindrome(text: str):\n    for i in range(len(text)):\n        if text[i] != text[len(text) - 1 - i]:\n            return False\n    return True\n",
    "def reverse(s):\n    return s[::-1]\n",
    "def count_vowels(s):\n    return sum(c in 'aeiouAEIOU' for c in s)\n",
    "def flatten(xs):\n    out = []\n    for x in xs:\n        if isinstance(x, list):\n            out.extend(flatten(x))\n        else:\n            out.append(x)\n    return out\n",
    "def binary_search(xs, target):\n    lo, hi = 0, len(xs) - 1\n    while lo <= hi:\n        mid = (lo + hi) // 2\n        if xs[mid] == target:\n            return mid\n        if xs[mid] < target:\n            lo = mid + 1\n        else:\n            hi = mid - 1\n    return -1\n",
    "def below_zero(operations):\n    balance = 0\n    for op in operations:\n        balance += op\n        if balance < 0:\n            return True\n    return False\n",
    "def mean(numbers):\n    return sum(numbers) / len(numbers)\n",
    "def bubble_sort(xs):\n    xs = list(xs)\n    for i in range(len(xs)):\n        for j in range(len(xs) - i - 1):\n            if xs[j] > xs[j + 1]:\n                xs[j], xs[j + 1] = xs[j + 1], xs[j]\n    return xs\n",
    "def digit_sum(n):\n    return sum(int(d) for d in str(abs(n)))\n",
    "def unique(l):\n    return sorted(list(set(l)))\n",
    "def max_element(l):\n    m = l[0]\n    for e in l:\n        if e > m:\n            m = e\n    return m\n",
]
