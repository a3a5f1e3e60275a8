/*
 * src/rng.c - counter-based random numbers: element i of a stream depends only on
 * (seed, i), so any thread can draw any element.
 */
#include "internal.h"

/* splitmix64's finaliser: a bijective 64-bit mix. */
static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t nb_rng_u64(uint64_t seed, uint64_t i)
{
    return mix64(mix64(seed + 0x9e3779b97f4a7c15ULL) ^ (i * 0xd1b54a32d192ed03ULL));
}

float nb_rng_uniform(uint64_t seed, uint64_t i)
{
    return (float)(nb_rng_u64(seed, i) >> 40) * 0x1.0p-24f;
}
