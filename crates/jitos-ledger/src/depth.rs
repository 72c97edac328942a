//! A serde `Deserializer` wrapper that refuses input nested deeper than a limit, whatever
//! the type being decoded.
//!
//! Serde decodes a nested value by recursing on the thread's stack, so a recursive type
//! (a value holding a list of values, a plan holding its sub-plans) read from hostile bytes
//! could nest deep enough to overflow it, and a stack overflow aborts the process rather
//! than returning an error. Bounding each recursive type by hand misses the next one a
//! future version adds; wrapping the decoder bounds every type at once. Each visit of a
//! sequence, map, enum, option or newtype spends one level; the level is returned when the
//! visit ends, because the wrappers are passed down by value.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};

/// A deserializer that may still enter `left` levels of nesting.
pub(crate) struct Limited<D> {
    inner: D,
    budget: Budget,
}

impl<D> Limited<D> {
    /// Wraps `inner`, allowing at most `max` levels of nesting below it.
    pub(crate) fn new(inner: D, max: usize) -> Limited<D> {
        Limited {
            inner,
            budget: Budget { left: max, max },
        }
    }
}

/// The bound a wrapper carries down: levels left, and the limit for the message.
#[derive(Clone, Copy)]
struct Budget {
    left: usize,
    max: usize,
}

impl Budget {
    /// One level deeper, or the error that says the input nests too deep.
    fn enter<E: de::Error>(self) -> Result<Budget, E> {
        match self.left.checked_sub(1) {
            Some(left) => Ok(Budget {
                left,
                max: self.max,
            }),
            None => Err(E::custom(format_args!(
                "it nests deeper than {} levels, more than any valid value",
                self.max
            ))),
        }
    }
}

struct LimitedVisitor<V> {
    inner: V,
    budget: Budget,
}

struct LimitedSeed<S> {
    inner: S,
    budget: Budget,
}

struct LimitedAccess<A> {
    inner: A,
    budget: Budget,
}

fn deserializer<D>(inner: D, budget: Budget) -> Limited<D> {
    Limited { inner, budget }
}

/// Forwards `deserialize_*` methods that take only a visitor.
macro_rules! forward {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            let budget = self.budget;
            self.inner.$method(LimitedVisitor { inner: visitor, budget })
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Limited<D> {
    type Error = D::Error;

    forward! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let budget = self.budget;
        self.inner.deserialize_unit_struct(
            name,
            LimitedVisitor {
                inner: visitor,
                budget,
            },
        )
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let budget = self.budget;
        self.inner.deserialize_newtype_struct(
            name,
            LimitedVisitor {
                inner: visitor,
                budget,
            },
        )
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let budget = self.budget;
        self.inner.deserialize_tuple(
            len,
            LimitedVisitor {
                inner: visitor,
                budget,
            },
        )
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let budget = self.budget;
        self.inner.deserialize_tuple_struct(
            name,
            len,
            LimitedVisitor {
                inner: visitor,
                budget,
            },
        )
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let budget = self.budget;
        self.inner.deserialize_struct(
            name,
            fields,
            LimitedVisitor {
                inner: visitor,
                budget,
            },
        )
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let budget = self.budget;
        self.inner.deserialize_enum(
            name,
            variants,
            LimitedVisitor {
                inner: visitor,
                budget,
            },
        )
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// Forwards `visit_*` methods of scalars, which nest nothing.
macro_rules! forward_scalar {
    ($($method:ident: $ty:ty)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for LimitedVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_scalar! {
        visit_bool: bool visit_i8: i8 visit_i16: i16 visit_i32: i32 visit_i64: i64
        visit_i128: i128 visit_u8: u8 visit_u16: u16 visit_u32: u32 visit_u64: u64
        visit_u128: u128 visit_f32: f32 visit_f64: f64 visit_char: char visit_str: &str
        visit_borrowed_str: &'de str visit_string: String visit_bytes: &[u8]
        visit_borrowed_bytes: &'de [u8] visit_byte_buf: Vec<u8>
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<V::Value, D2::Error> {
        let budget = self.budget.enter()?;
        self.inner.visit_some(deserializer(d, budget))
    }

    fn visit_newtype_struct<D2: Deserializer<'de>>(self, d: D2) -> Result<V::Value, D2::Error> {
        let budget = self.budget.enter()?;
        self.inner.visit_newtype_struct(deserializer(d, budget))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        let budget = self.budget.enter()?;
        self.inner.visit_seq(LimitedAccess { inner: seq, budget })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let budget = self.budget.enter()?;
        self.inner.visit_map(LimitedAccess { inner: map, budget })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        let budget = self.budget.enter()?;
        self.inner.visit_enum(LimitedAccess {
            inner: data,
            budget,
        })
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for LimitedSeed<S> {
    type Value = S::Value;

    fn deserialize<D2: Deserializer<'de>>(self, d: D2) -> Result<S::Value, D2::Error> {
        self.inner.deserialize(deserializer(d, self.budget))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for LimitedAccess<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.inner.next_element_seed(LimitedSeed {
            inner: seed,
            budget: self.budget,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for LimitedAccess<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.inner.next_key_seed(LimitedSeed {
            inner: seed,
            budget: self.budget,
        })
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.inner.next_value_seed(LimitedSeed {
            inner: seed,
            budget: self.budget,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for LimitedAccess<A> {
    type Error = A::Error;
    type Variant = LimitedAccess<A::Variant>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), A::Error> {
        let budget = self.budget;
        let (value, variant) = self.inner.variant_seed(LimitedSeed {
            inner: seed,
            budget,
        })?;
        Ok((
            value,
            LimitedAccess {
                inner: variant,
                budget,
            },
        ))
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for LimitedAccess<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.inner.newtype_variant_seed(LimitedSeed {
            inner: seed,
            budget: self.budget,
        })
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.inner.tuple_variant(
            len,
            LimitedVisitor {
                inner: visitor,
                budget: self.budget,
            },
        )
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.inner.struct_variant(
            fields,
            LimitedVisitor {
                inner: visitor,
                budget: self.budget,
            },
        )
    }
}
