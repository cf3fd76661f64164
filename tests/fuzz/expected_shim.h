// A minimal std::expected for fuzz targets built with clang 14, which cannot
// use libstdc++ 12's <expected> (that header needs __cpp_concepts >= 202002).
// Include it before anything else in a unity-build fuzz target; with a
// compiler that has std::expected it does nothing.
#pragma once

#include <version>

#if !defined(__cpp_lib_expected)
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace std {

template <class E> class unexpected {
  public:
    constexpr explicit unexpected(E e) : m_error(std::move(e)) {}
    constexpr const E& error() const& { return m_error; }
    constexpr E& error() & { return m_error; }
    constexpr E&& error() && { return std::move(m_error); }

  private:
    E m_error;
};
template <class E> unexpected(E) -> unexpected<E>;

template <class T> struct is_unexpected_shim : false_type {};
template <class E> struct is_unexpected_shim<unexpected<E>> : true_type {};

template <class T, class E> class expected {
  public:
    constexpr expected() : m_storage(in_place_index<0>) {}
    template <class U = T>
    requires(!is_same_v<remove_cvref_t<U>, expected> &&
             !is_unexpected_shim<remove_cvref_t<U>>::value &&
             is_constructible_v<T, U>) constexpr expected(U&& value)
        : m_storage(in_place_index<0>, std::forward<U>(value)) {}
    template <class G>
    constexpr expected(const unexpected<G>& e) : m_storage(in_place_index<1>, e.error()) {}
    template <class G>
    constexpr expected(unexpected<G>&& e) : m_storage(in_place_index<1>, std::move(e).error()) {}

    constexpr bool has_value() const { return m_storage.index() == 0; }
    constexpr explicit operator bool() const { return has_value(); }
    constexpr T& operator*() & { return *get_if<0>(&m_storage); }
    constexpr const T& operator*() const& { return *get_if<0>(&m_storage); }
    constexpr T&& operator*() && { return std::move(*get_if<0>(&m_storage)); }
    constexpr T* operator->() { return get_if<0>(&m_storage); }
    constexpr const T* operator->() const { return get_if<0>(&m_storage); }
    constexpr T& value() & { return **this; }
    constexpr E& error() & { return *get_if<1>(&m_storage); }
    constexpr const E& error() const& { return *get_if<1>(&m_storage); }
    constexpr E&& error() && { return std::move(*get_if<1>(&m_storage)); }

  private:
    variant<T, E> m_storage;
};

template <class E> class expected<void, E> {
  public:
    constexpr expected() = default;
    template <class G> constexpr expected(const unexpected<G>& e) : m_error(e.error()) {}
    template <class G> constexpr expected(unexpected<G>&& e) : m_error(std::move(e).error()) {}

    constexpr bool has_value() const { return !m_error.has_value(); }
    constexpr explicit operator bool() const { return has_value(); }
    constexpr E& error() & { return *m_error; }
    constexpr const E& error() const& { return *m_error; }
    constexpr E&& error() && { return std::move(*m_error); }

  private:
    optional<E> m_error;
};

} // namespace std
#endif
