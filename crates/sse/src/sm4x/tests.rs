use aes_gcm::aead::consts::U12;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::{AeadInOut, AesGcm, KeyInit};
use proptest::prelude::*;
use sm4::Sm4;
use sm4::cipher::{Array, BlockCipherEncrypt};

use super::*;

fn blocks_of(bytes: &[u8]) -> Vec<Array<u8, U16>> {
    bytes
        .chunks_exact(16)
        .map(|c| Array::try_from(c).unwrap())
        .collect()
}

fn reference(key: &[u8; 16], bytes: &[u8]) -> Vec<Array<u8, U16>> {
    let mut blocks = blocks_of(bytes);
    Sm4::new(key.into()).encrypt_blocks(&mut blocks);
    blocks
}

fn ours(cipher: &Sm4x, bytes: &[u8]) -> Vec<Array<u8, U16>> {
    let mut blocks = blocks_of(bytes);
    cipher.encrypt_blocks(&mut blocks);
    blocks
}

#[test]
fn derived_sbox_and_constants_are_the_standards() {
    // Spot values of the standard's table and its key-schedule constants.
    assert_eq!(
        (SBOX[0x00], SBOX[0x01], SBOX[0x10], SBOX[0x7f], SBOX[0xff]),
        (0xd6, 0x90, 0x2b, 0x9e, 0x48)
    );
    assert_eq!((ck(0), ck(1), ck(31)), (0x0007_0e15, 0x1c23_2a31, 0x646b_7279));
    // The table is a permutation, as an S-box must be.
    let mut seen = [false; 256];
    for v in SBOX {
        assert!(!seen[usize::from(v)]);
        seen[usize::from(v)] = true;
    }
}

#[test]
fn the_standards_example_both_paths() {
    let key: [u8; 16] = hex::decode("0123456789abcdeffedcba9876543210")
        .unwrap()
        .try_into()
        .unwrap();
    let expected = hex::decode("681edf34d206965e86b3e94f536e4246").unwrap();
    for cipher in [Sm4x::new(&key.into()), Sm4x::portable(&key)] {
        // 33 blocks: one full vector batch and a one-block tail.
        let out = ours(&cipher, &key.repeat(33));
        assert!(out.iter().all(|b| b.as_slice() == expected.as_slice()));
        // 17 blocks: a tail of several blocks.
        let out = ours(&cipher, &key.repeat(17));
        assert!(out.iter().all(|b| b.as_slice() == expected.as_slice()));
    }
}

#[test]
fn the_standards_million_fold_example() {
    let key: [u8; 16] = hex::decode("0123456789abcdeffedcba9876543210")
        .unwrap()
        .try_into()
        .unwrap();
    let cipher = Sm4x::portable(&key);
    let mut block = Array::from(key);
    for _ in 0..1_000_000 {
        BlockCipherEncrypt::encrypt_block(&cipher, &mut block);
    }
    assert_eq!(hex::encode(block), "595298c7c6fd271f0402f804c33d3f66");
}

#[test]
fn the_vector_path_is_taken_where_the_cpu_has_it() {
    let cipher = Sm4x::new(&[7u8; 16].into());
    assert_eq!(cipher.is_vectorised(), vector_available());
    assert!(!Sm4x::portable(&[7u8; 16]).is_vectorised());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn both_key_schedules_agree(key in any::<[u8; 16]>()) {
        prop_assert_eq!(Sm4x::new(&key.into()).rk, Sm4x::portable(&key).rk);
    }

    #[test]
    fn single_blocks_equal_the_sm4_crate(key in any::<[u8; 16]>(), block in any::<[u8; 16]>()) {
        let mut ours = Array::from(block);
        BlockCipherEncrypt::encrypt_block(&Sm4x::new(&key.into()), &mut ours);
        let expected = reference(&key, &block);
        prop_assert_eq!(ours.as_slice(), expected[0].as_slice());
    }

    #[test]
    fn blocks_equal_the_sm4_crate(key in any::<[u8; 16]>(), bytes in prop::collection::vec(any::<u8>(), 0..120).prop_map(|v| v.repeat(1 + v.len() % 9))) {
        let bytes = &bytes[..bytes.len() / 16 * 16];
        let expected = reference(&key, bytes);
        prop_assert_eq!(&ours(&Sm4x::new(&key.into()), bytes), &expected);
        prop_assert_eq!(&ours(&Sm4x::portable(&key), bytes), &expected);
    }

    #[test]
    fn gcm_equals_gcm_over_the_sm4_crate(
        key in any::<[u8; 16]>(),
        nonce in any::<[u8; 12]>(),
        aad in prop::collection::vec(any::<u8>(), 0..40),
        len in 0usize..2100,
        seed in any::<u8>(),
    ) {
        let plain: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
        let reference = AesGcm::<Sm4, U12>::new(&key.into());
        let fast = AesGcm::<Sm4x, U12>::new(&key.into());
        let mut a = plain.clone();
        let mut b = plain.clone();
        let tag_a = reference.encrypt_inout_detached(&nonce.into(), &aad, InOutBuf::from(a.as_mut_slice())).unwrap();
        let tag_b = fast.encrypt_inout_detached(&nonce.into(), &aad, InOutBuf::from(b.as_mut_slice())).unwrap();
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(tag_a, tag_b);
        fast.decrypt_inout_detached(&nonce.into(), &aad, InOutBuf::from(b.as_mut_slice()), &tag_b).unwrap();
        prop_assert_eq!(&b, &plain);
    }
}
