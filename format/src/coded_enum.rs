//! `coded_enum!`: declares a fieldless enum that files store as an integer code, with the list
//! of its values and the decoding of a code, so each such enum states its codes once.

/// `coded_enum! { enum Name: u8, from_u8 { A = 0, B = 1 } }` declares `Name` with
/// `#[repr(u8)]` and those codes (`value as u8` encodes), `Name::ALL` (every value in
/// declaration order) and `Name::from_u8(code)` (`None` for a code no value has).
macro_rules! coded_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident: $repr:ident, $from:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $code:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr($repr)]
        $vis enum $name {
            $($(#[$variant_meta])* $variant = $code,)+
        }

        impl $name {
            pub const ALL: [$name; [$(stringify!($variant)),+].len()] = [$($name::$variant),+];

            pub fn $from(code: $repr) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

pub(crate) use coded_enum;
