//! Small OSS vocabulary types shared by headers and XML bodies: ACLs, storage classes, redundancy types
//! and object types, each with its exact wire spelling.

use crate::error::OssError;

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $wire:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire,)* }
            }

            /// Parses the exact wire spelling; anything else is `400 InvalidArgument`.
            pub fn parse(value: &str) -> Result<Self, OssError> {
                match value {
                    $($wire => Ok($name::$variant),)*
                    _ => Err(OssError::invalid_argument($what).extra("ArgumentValue", value.to_owned())),
                }
            }
        }
    };
}

wire_enum! {
    /// A canned ACL (`x-oss-acl`, `x-oss-object-acl`, `<Grant>`).
    CannedAcl, "No such canned ACL exists." {
        /// `private`.
        Private = "private",
        /// `public-read`.
        PublicRead = "public-read",
        /// `public-read-write`.
        PublicReadWrite = "public-read-write",
        /// `default`: an object inherits its bucket's ACL.
        Default = "default",
    }
}

wire_enum! {
    /// A storage class.
    StorageClass, "No such bucket storage class exists." {
        /// `Standard`.
        Standard = "Standard",
        /// `IA` (infrequent access).
        Ia = "IA",
        /// `Archive`.
        Archive = "Archive",
        /// `ColdArchive`.
        ColdArchive = "ColdArchive",
        /// `DeepColdArchive`.
        DeepColdArchive = "DeepColdArchive",
    }
}

wire_enum! {
    /// The data redundancy type of a bucket.
    DataRedundancyType, "No such data redundancy type exists." {
        /// `LRS` (locally redundant).
        Lrs = "LRS",
        /// `ZRS` (zone redundant).
        Zrs = "ZRS",
    }
}

wire_enum! {
    /// How an object was written (`x-oss-object-type`, `<Type>`).
    ObjectType, "No such object type exists." {
        /// `Normal`: PutObject, CopyObject.
        Normal = "Normal",
        /// `Multipart`: CompleteMultipartUpload.
        Multipart = "Multipart",
        /// `Appendable`: AppendObject.
        Appendable = "Appendable",
        /// `Symlink`.
        Symlink = "Symlink",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_spellings_round_trip_and_are_case_sensitive() {
        for &acl in CannedAcl::ALL {
            assert_eq!(CannedAcl::parse(acl.as_str()).ok(), Some(acl));
        }
        for &class in StorageClass::ALL {
            assert_eq!(StorageClass::parse(class.as_str()).ok(), Some(class));
        }
        assert_eq!(StorageClass::parse("IA").ok(), Some(StorageClass::Ia));
        assert!(StorageClass::parse("standard").is_err());
        assert!(CannedAcl::parse("Private").is_err());
        assert_eq!(
            DataRedundancyType::parse("ZRS").ok(),
            Some(DataRedundancyType::Zrs)
        );
        assert_eq!(ObjectType::Appendable.as_str(), "Appendable");
    }
}
