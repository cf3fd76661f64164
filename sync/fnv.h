// FNV-1a, 64 bits: the one hash mailferry writes itself. It tells names and
// contents apart for accidents (a long folder name, a job's shard, a message
// compared with its copy), never against an adversary. Here, at the bottom
// of the layers, because the engine uses it too (verify).
#pragma once

#include <cstdint>
#include <string_view>

namespace mf {

// The published FNV-1a 64 offset basis.
inline constexpr std::uint64_t k_fnv1a64_basis = 14695981039346656037ull;

// The published basis with its last digit missing: the push state and the
// POP3 source were first written with it, and what they hashed is kept on
// disk. Push-state files are named push-<hash>.db after their source and
// target, POP3 change tokens hold a hash of the UIDL listing, and a POP3
// message with an overlong UIDL or none is known by "uidl-<hash>-<n>" or
// "fp-<hash>-<size>". The standard basis would give them all new names: the
// next run would not find its push state (and push everything again), would
// take every mailbox for changed, and would fetch those messages again.
// Any basis spreads as well as the published one.
inline constexpr std::uint64_t k_fnv1a64_persisted_basis = 1469598103934665603ull;

// FNV-1a of `bytes`, starting from `hash`: a basis, or the hash of the bytes
// before these (hashing in pieces gives what hashing all at once gives).
constexpr std::uint64_t fnv1a64(std::string_view bytes, std::uint64_t hash = k_fnv1a64_basis) {
    for (char c : bytes) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ull;
    }
    return hash;
}

static_assert(fnv1a64("") == 0xcbf29ce484222325ull && fnv1a64("a") == 0xaf63dc4c8601ec8cull);

} // namespace mf
