# A small seeded generator for shuffling inside the compiled loop: xoshiro256** (Blackman and
# Vigna), seeded by splitmix64, with Lemire's unbiased bounded integers.
from libc.stdint cimport uint64_t
from libc.stdint cimport uint32_t


cdef inline uint64_t rotl(uint64_t x, int k) noexcept nogil:
    return (x << k) | (x >> (64 - k))


# Fills the four words of `state` from one 64-bit seed.
cdef inline void seed_state(uint64_t* state, uint64_t seed) noexcept nogil:
    cdef int i
    cdef uint64_t z
    for i in range(4):
        seed = seed + 0x9E3779B97F4A7C15ULL
        z = seed
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
        state[i] = z ^ (z >> 31)


# Next 64 random bits.
cdef inline uint64_t next_u64(uint64_t* s) noexcept nogil:
    cdef uint64_t result = rotl(s[1] * 5, 7) * 9
    cdef uint64_t t = s[1] << 17
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = rotl(s[3], 45)
    return result


# Uniform integer in [0, n) for 0 < n < 2^32, unbiased (Lemire 2019).
cdef inline Py_ssize_t below(uint64_t* s, Py_ssize_t n) noexcept nogil:
    cdef uint64_t bound = <uint64_t>n
    cdef uint64_t m = (next_u64(s) >> 32) * bound
    cdef uint32_t low = <uint32_t>m, threshold
    if low < bound:
        threshold = (<uint32_t>0 - <uint32_t>bound) % <uint32_t>bound
        while low < threshold:
            m = (next_u64(s) >> 32) * bound
            low = <uint32_t>m
    return <Py_ssize_t>(m >> 32)


# Fisher-Yates shuffle of order[0:n] in place.
cdef inline void shuffle(Py_ssize_t* order, Py_ssize_t n, uint64_t* s) noexcept nogil:
    cdef Py_ssize_t i, j, tmp
    for i in range(n - 1, 0, -1):
        j = below(s, i + 1)
        tmp = order[i]
        order[i] = order[j]
        order[j] = tmp
