//! Z85 (ZeroMQ RFC 32): the text form of binary keys, four bytes to five
//! printable characters. libzmq's `zmq_z85_encode` and `zmq_z85_decode`;
//! CURVE keys are given as 40 Z85 characters as often as as 32 bytes.

use super::Error;

/// The 85 characters, in digit order.
const ALPHABET: &[u8; 85] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// The digit of each byte, or 0xFF for a byte outside the alphabet.
const DIGITS: [u8; 256] = {
    let mut t = [0xFF; 256];
    let mut i = 0;
    while i < 85 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// Encodes `data`, whose length must be a multiple of 4.
///
/// ```
/// use ringmq::zmtp::{z85_decode, z85_encode};
///
/// let text = z85_encode(&[0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]).unwrap();
/// assert_eq!(text, "HelloWorld");
/// assert_eq!(z85_decode(&text).unwrap(), [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]);
/// assert!(z85_encode(b"abc").is_err());
/// ```
pub fn z85_encode(data: &[u8]) -> Result<String, Error> {
    if data.len() % 4 != 0 {
        return Err(Error::InvalidConfig(
            "Z85 encodes whole groups of 4 bytes: the length must be a multiple of 4",
        ));
    }
    let mut out = String::with_capacity(data.len() / 4 * 5);
    for group in data.chunks_exact(4) {
        let mut v = u32::from_be_bytes([group[0], group[1], group[2], group[3]]);
        let mut chars = [0u8; 5];
        for c in chars.iter_mut().rev() {
            *c = ALPHABET[(v % 85) as usize];
            v /= 85;
        }
        out.extend(chars.iter().map(|&c| c as char));
    }
    Ok(out)
}

/// Decodes Z85 text, whose length must be a multiple of 5; every character
/// must be in the alphabet and every group of five must fit in 32 bits.
pub fn z85_decode(text: &str) -> Result<Vec<u8>, Error> {
    let text = text.as_bytes();
    if text.len() % 5 != 0 {
        return Err(Error::InvalidConfig(
            "Z85 text comes in groups of 5 characters: the length must be a multiple of 5",
        ));
    }
    let mut out = Vec::with_capacity(text.len() / 5 * 4);
    for group in text.chunks_exact(5) {
        let mut v: u64 = 0;
        for &c in group {
            let d = DIGITS[c as usize];
            if d == 0xFF {
                return Err(Error::InvalidConfig(
                    "Z85 text has a character outside the alphabet",
                ));
            }
            v = v * 85 + u64::from(d);
        }
        let Ok(v) = u32::try_from(v) else {
            return Err(Error::InvalidConfig("Z85 group larger than 32 bits"));
        };
        out.extend_from_slice(&v.to_be_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example() {
        // RFC 32's test case.
        let data = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];
        assert_eq!(z85_encode(&data).unwrap(), "HelloWorld");
        assert_eq!(z85_decode("HelloWorld").unwrap(), data);
    }

    #[test]
    fn round_trips_every_byte_value() {
        let data: Vec<u8> = (0..=255u8).collect();
        let text = z85_encode(&data).unwrap();
        assert_eq!(text.len(), 320);
        assert_eq!(z85_decode(&text).unwrap(), data);
        assert_eq!(z85_encode(&[0xFF; 4]).unwrap(), "%nSc0");
        assert_eq!(z85_encode(&[0; 4]).unwrap(), "00000");
    }

    #[test]
    fn refuses_bad_text() {
        assert!(z85_decode("Hello World").is_err()); // 11 characters
        assert!(z85_decode("Hell\"").is_err()); // not in the alphabet
        assert!(z85_decode("#####").is_err()); // 85^5 - 1 > u32::MAX
        assert!(z85_decode("%nSc1").is_err()); // u32::MAX + 1
        assert!(z85_decode("é1234").is_err());
        assert_eq!(z85_decode("").unwrap(), Vec::<u8>::new());
    }
}
