//! Compiles every `.proto` file under the repository's `proto/` directory with `protox` (no system
//! `protoc`) and generates prost messages plus tonic clients and servers for all of them.
//!
//! Secret-bearing messages are detected from the descriptors themselves, so a new `.proto` file needs no
//! edit here: a message is secret if it has a field named `plaintext`, `key_material` or `secret`, or a
//! field ending in `_plaintext` or `_secret`, or a field whose type is itself a secret message. Secret
//! messages get no derived `Debug` and keep their `bytes` fields as `Vec<u8>` so the receiving side can
//! move them into a zeroizing buffer without a copy; every other `bytes` field is `bytes::Bytes`.

use std::collections::BTreeSet;
use std::error::Error;
use std::path::{Path, PathBuf};

use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, FileDescriptorSet};

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto").canonicalize()?;
    println!("cargo:rerun-if-changed={}", proto_root.display());

    let mut files = Vec::new();
    collect_protos(&proto_root, &proto_root, &mut files)?;
    files.sort();
    for file in &files {
        println!("cargo:rerun-if-changed={}", proto_root.join(file).display());
    }

    let fds = protox::compile(&files, [&proto_root])?;
    let secret = secret_messages(&fds);
    write_application_descriptors(&fds)?;

    let mut builder = tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .include_file("cang_protos.rs")
        .skip_debug(secret.iter());
    for path in public_bytes_fields(&fds, &secret) {
        builder = builder.bytes(path);
    }
    builder.compile_fds(fds)?;
    Ok(())
}

/// Writes the descriptors of the public application API (package `cang.kms.app.v1`), for gRPC
/// reflection on the listener that serves it; the internal services are not described there.
fn write_application_descriptors(fds: &FileDescriptorSet) -> Result<(), Box<dyn Error>> {
    use prost::Message as _;
    let public = FileDescriptorSet {
        file: fds
            .file
            .iter()
            .filter(|f| f.package() == "cang.kms.app.v1")
            .cloned()
            .collect(),
    };
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("cang_kms_app_descriptor.bin");
    std::fs::write(out, public.encode_to_vec())?;
    Ok(())
}

/// Appends every `.proto` file below `dir`, as a path relative to `root` (the include path).
fn collect_protos(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Box<dyn Error>> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect_protos(root, &path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            out.push(path.strip_prefix(root)?.to_path_buf());
        }
    }
    Ok(())
}

fn is_secret_field_name(name: &str) -> bool {
    matches!(name, "plaintext" | "key_material" | "secret")
        || name.ends_with("_plaintext")
        || name.ends_with("_secret")
}

/// Every message as `(fully qualified name, descriptor)`, nested messages included.
fn all_messages(fds: &FileDescriptorSet) -> Vec<(String, &DescriptorProto)> {
    fn walk<'a>(prefix: &str, msgs: &'a [DescriptorProto], out: &mut Vec<(String, &'a DescriptorProto)>) {
        for msg in msgs {
            let name = format!("{prefix}.{}", msg.name());
            walk(&name, &msg.nested_type, out);
            out.push((name, msg));
        }
    }
    let mut out = Vec::new();
    for file in &fds.file {
        let prefix = if file.package().is_empty() {
            String::new()
        } else {
            format!(".{}", file.package())
        };
        walk(&prefix, &file.message_type, &mut out);
    }
    out
}

/// Fully qualified names of secret messages, closed under containment.
fn secret_messages(fds: &FileDescriptorSet) -> BTreeSet<String> {
    let messages = all_messages(fds);
    let mut secret: BTreeSet<String> = messages
        .iter()
        .filter(|(_, msg)| msg.field.iter().any(|f| is_secret_field_name(f.name())))
        .map(|(name, _)| name.clone())
        .collect();
    loop {
        let before = secret.len();
        for (name, msg) in &messages {
            if msg
                .field
                .iter()
                .any(|f| f.r#type() == Type::Message && secret.contains(f.type_name()))
            {
                secret.insert(name.clone());
            }
        }
        if secret.len() == before {
            return secret;
        }
    }
}

/// Paths of `bytes` fields outside secret messages: these are generated as `bytes::Bytes`.
fn public_bytes_fields(fds: &FileDescriptorSet, secret: &BTreeSet<String>) -> Vec<String> {
    all_messages(fds)
        .into_iter()
        .filter(|(name, _)| !secret.contains(name))
        .flat_map(|(name, msg)| {
            msg.field
                .iter()
                .filter(|f| f.r#type() == Type::Bytes)
                .map(move |f| format!("{name}.{}", f.name()))
                .collect::<Vec<_>>()
        })
        .collect()
}
