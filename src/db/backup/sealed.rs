//! A backup file's envelope: a fixed header naming the key (by fingerprint), then the content in
//! 64 KiB frames, each sealed with XChaCha20-Poly1305 in the STREAM construction (aead's
//! `EncryptorBE32`): a frame altered, reordered or dropped, and a file cut short, all fail to
//! open, because each frame's nonce counts its place and the last is sealed as the last.
//!
//! Header: `MEALROLL-BACKUP` + format byte (16), key fingerprint (16 ASCII hex), nonce prefix
//! (19). Frame: 1 byte (0 = more follow, 1 = last), ciphertext length (u32 LE), ciphertext.

use std::io::{self, Read, Write};

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::KeyInit;
use chacha20poly1305::aead::stream::{DecryptorBE32, EncryptorBE32};

const MAGIC: &[u8; 16] = b"MEALROLL-BACKUP\x01";
const CHUNK: usize = 64 * 1024;
/// A frame longer than a chunk and its tag was not written by us.
const MAX_FRAME: usize = CHUNK + 16;

/// The key a backup is sealed with (derived from the master secret).
#[derive(Clone)]
pub struct BackupKey([u8; 32]);

impl BackupKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Names the key without revealing it, so a restore with the wrong one says so.
    pub fn id(&self) -> String {
        crate::domain::chain::ChainKey::new(self.0).id()
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }
}

fn sealing_failed() -> io::Error {
    io::Error::other("加密失败")
}

/// Seals what is written to it; [`SealedWriter::finish`] seals the last frame.
pub struct SealedWriter<W: Write> {
    out: W,
    enc: Option<EncryptorBE32<XChaCha20Poly1305>>,
    buf: Vec<u8>,
}

impl<W: Write> SealedWriter<W> {
    pub fn new(mut out: W, key: &BackupKey) -> io::Result<Self> {
        let nonce: [u8; 19] = rand::random();
        out.write_all(MAGIC)?;
        out.write_all(key.id().as_bytes())?;
        out.write_all(&nonce)?;
        let enc = EncryptorBE32::from_aead(key.cipher(), (&nonce).into());
        Ok(Self { out, enc: Some(enc), buf: Vec::with_capacity(CHUNK * 2) })
    }

    fn frame(&mut self, last: bool, ct: &[u8]) -> io::Result<()> {
        self.out.write_all(&[u8::from(last)])?;
        self.out.write_all(&(ct.len() as u32).to_le_bytes())?;
        self.out.write_all(ct)
    }

    /// Seals the rest as the last frame and hands back the file.
    pub fn finish(mut self) -> io::Result<W> {
        let enc = self.enc.take().ok_or_else(sealing_failed)?;
        let rest = std::mem::take(&mut self.buf);
        let ct = enc.encrypt_last(rest.as_slice()).map_err(|_| sealing_failed())?;
        self.frame(true, &ct)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for SealedWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        // Strictly more than a chunk: whatever remains at the end is sealed as the last frame.
        while self.buf.len() > CHUNK {
            let rest = self.buf.split_off(CHUNK);
            let chunk = std::mem::replace(&mut self.buf, rest);
            let enc = self.enc.as_mut().ok_or_else(sealing_failed)?;
            let ct = enc.encrypt_next(chunk.as_slice()).map_err(|_| sealing_failed())?;
            self.frame(false, &ct)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Why a backup does not open: said in words a county operator can act on.
#[derive(Debug)]
pub enum OpenError {
    NotABackup,
    OtherKey(String),
    Damaged,
    Io(io::Error),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::NotABackup => write!(f, "不是 mealroll 备份文件"),
            OpenError::OtherKey(id) => write!(f, "备份由另一把密钥（指纹 {id}）加密，请用备份时的主密钥恢复"),
            OpenError::Damaged => write!(f, "备份文件已损坏、被改动或不完整（被截断）"),
            OpenError::Io(e) => write!(f, "读取失败：{e}"),
        }
    }
}

/// Opens what a [`SealedWriter`] wrote; a read past a damaged or missing frame fails.
pub struct SealedReader<R: Read> {
    input: R,
    dec: Option<DecryptorBE32<XChaCha20Poly1305>>,
    plain: Vec<u8>,
    pos: usize,
}

impl<R: Read> SealedReader<R> {
    pub fn open(mut input: R, key: &BackupKey) -> Result<Self, OpenError> {
        let mut head = [0u8; 16 + 16 + 19];
        input.read_exact(&mut head).map_err(|_| OpenError::NotABackup)?;
        if &head[..16] != MAGIC {
            return Err(OpenError::NotABackup);
        }
        let id = String::from_utf8_lossy(&head[16..32]).into_owned();
        if id != key.id() {
            return Err(OpenError::OtherKey(id));
        }
        let mut nonce = [0u8; 19];
        nonce.copy_from_slice(&head[32..]);
        let dec = DecryptorBE32::from_aead(key.cipher(), (&nonce).into());
        Ok(Self { input, dec: Some(dec), plain: Vec::new(), pos: 0 })
    }

    /// The next frame's plaintext; `None` after the last.
    fn next_frame(&mut self) -> Result<Option<Vec<u8>>, OpenError> {
        if self.dec.is_none() {
            return Ok(None);
        }
        let mut head = [0u8; 5];
        self.input.read_exact(&mut head).map_err(|_| OpenError::Damaged)?;
        let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if len > MAX_FRAME || head[0] > 1 {
            return Err(OpenError::Damaged);
        }
        let mut ct = vec![0u8; len];
        self.input.read_exact(&mut ct).map_err(|_| OpenError::Damaged)?;
        let plain = if head[0] == 1 {
            let dec = self.dec.take().ok_or(OpenError::Damaged)?;
            let plain = dec.decrypt_last(ct.as_slice()).map_err(|_| OpenError::Damaged)?;
            // Nothing may follow the last frame.
            let mut extra = [0u8; 1];
            if self.input.read(&mut extra).map_err(OpenError::Io)? != 0 {
                return Err(OpenError::Damaged);
            }
            plain
        } else {
            let dec = self.dec.as_mut().ok_or(OpenError::Damaged)?;
            dec.decrypt_next(ct.as_slice()).map_err(|_| OpenError::Damaged)?
        };
        Ok(Some(plain))
    }
}

impl<R: Read> Read for SealedReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.plain.len() {
            match self.next_frame() {
                Ok(Some(p)) => {
                    self.plain = p;
                    self.pos = 0;
                }
                Ok(None) => return Ok(0),
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            }
        }
        let n = out.len().min(self.plain.len() - self.pos);
        out[..n].copy_from_slice(&self.plain[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(data: &[u8], key: &BackupKey) -> Vec<u8> {
        let mut w = SealedWriter::new(Vec::new(), key).expect("header");
        w.write_all(data).expect("write");
        w.finish().expect("finish")
    }

    fn open(file: &[u8], key: &BackupKey) -> Result<Vec<u8>, String> {
        let mut r = SealedReader::open(file, key).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).map_err(|e| e.to_string())?;
        Ok(out)
    }

    #[test]
    fn what_is_sealed_opens_only_whole_and_with_its_key() {
        let key = BackupKey::new([7; 32]);
        for size in [0, 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let file = seal(&data, &key);
            assert_eq!(open(&file, &key).as_deref(), Ok(data.as_slice()), "{size} bytes");
            assert!(open(&file, &BackupKey::new([8; 32])).expect_err("other key").contains("另一把密钥"));
            let mut flipped = file.clone();
            let at = flipped.len() - 3;
            flipped[at] ^= 1;
            assert!(open(&flipped, &key).expect_err("altered").contains("损坏"), "{size}");
            if size > CHUNK {
                // Cut after the first frame: every byte read is genuine, but the end is missing.
                let first = 51 + 5 + CHUNK + 16;
                assert!(open(&file[..first], &key).expect_err("truncated").contains("截断"), "{size}");
            }
        }
        assert!(open(b"PK\x03\x04 not a backup at all, no", &key).expect_err("zip").contains("不是"));
    }
}
