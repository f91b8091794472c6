//! gzip bodies put together from parts, none of them compressed on the request path: the
//! page's own parts go in as stored (uncompressed) deflate blocks, and a large part that
//! many responses share (the team list's rows) goes in as a [`Template`] deflated once.
//!
//! A template has holes: equal-length stretches, all filled with the same bytes in one
//! response (the viewer's CSRF token) but different ones in the next. The first hole is a
//! stored block written per response; the text after it was deflated with a placeholder in
//! every hole, so the later holes are copies of the first (LZ77 back-references) and the
//! decoder fills them with whatever the first one holds. The fill itself is never compressed,
//! so the body's length does not depend on it: a secret in a hole cannot be guessed from
//! compressed sizes (BREACH), and the response leaks what an uncompressed one would.
//!
//! The gzip trailer's CRC-32 is kept without reading the template's text again: CRC-32 is
//! linear, so the CRC of the filled text is the placeholder text's CRC plus a term computed
//! from the fill alone, and the CRCs of the parts combine by a multiplication
//! (`multmodp`/`x8nmodp`, as zlib's `crc32_combine` does).
//!
//! Whatever builds a template checks it: it is inflated with two probe fills that differ at
//! every byte, and must give the text with each probe in every hole and the CRC the formula
//! says. A text the trick would not carry (the compressor copied between a hole and the text
//! around it, as it may where the text holds the placeholder's bytes, or spelled out a hole)
//! fails that check and yields no template, and the page is sent uncompressed.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Deflate's window: the farthest back a copy can reach.
const WINDOW: usize = 32 * 1024;

/// The probes' letters: holes at most this long are checked at every place.
const PROBE_PERIOD: usize = 26;

/// A text deflated once, with holes that each response fills.
pub struct Template {
    /// The text up to the first hole (all of it without holes), deflated, byte-aligned.
    head: Vec<u8>,
    /// The text after the first hole, deflated with all before it as history, byte-aligned.
    tail: Vec<u8>,
    /// The holes' length, and whether there are any.
    hole_len: usize,
    has_holes: bool,
    placeholder: Vec<u8>,
    /// The text's length, its CRC-32 with the placeholder in every hole, x^(8 * length) mod P
    /// (to append it to what comes before), and the sum over the holes of x^(8 * the bytes
    /// after the hole) mod P (to correct the CRC for a fill).
    len: u64,
    crc: u32,
    shift: u32,
    holes: u32,
}

impl Template {
    /// Deflates `text`, whose holes (each `placeholder`'s length, starting at `hole_starts`,
    /// in order) hold `placeholder`. `None` when the result does not check out.
    pub fn build(text: &[u8], hole_starts: &[usize], placeholder: &[u8]) -> Option<Template> {
        let hole_len = placeholder.len();
        let holes_fit = hole_starts.windows(2).all(|w| w[0] + hole_len <= w[1])
            && hole_starts
                .last()
                .is_none_or(|&h| h + hole_len <= text.len())
            && hole_starts
                .iter()
                .all(|&h| &text[h..h + hole_len] == placeholder);
        // Longer holes than the probes' period could hide a copy from one place of a hole to
        // another PROBE_PERIOD further on: both probes hold the same byte at either end.
        if !holes_fit || (hole_len == 0 && !hole_starts.is_empty()) || hole_len > PROBE_PERIOD {
            return None;
        }
        let (head, tail) = match hole_starts.first() {
            None => (deflate(&[], text)?, Vec::new()),
            Some(&first) => {
                let after = first + hole_len;
                let history = &text[after.saturating_sub(WINDOW)..after];
                (
                    deflate(&[], &text[..first])?,
                    deflate(history, &text[after..])?,
                )
            }
        };
        let len = text.len() as u64;
        let holes = hole_starts.iter().fold(0, |sum, &h| {
            sum ^ x8nmodp((text.len() - h - hole_len) as u64)
        });
        let template = Template {
            head,
            tail,
            hole_len,
            has_holes: !hole_starts.is_empty(),
            placeholder: placeholder.to_vec(),
            len,
            crc: crc32(0, text),
            shift: x8nmodp(len),
            holes,
        };
        template.checks_out(text, hole_starts).then_some(template)
    }

    /// The compressed bytes a response carries (the fill aside).
    pub fn compressed_len(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    pub fn hole_len(&self) -> usize {
        self.hole_len
    }

    /// The CRC-32 of the text with `fill` in every hole.
    fn crc_with(&self, fill: &[u8]) -> u32 {
        let delta: Vec<u8> = fill
            .iter()
            .zip(&self.placeholder)
            .map(|(f, p)| f ^ p)
            .collect();
        // CRC-32 of the difference with no pre- or post-conditioning: the CRC of `delta` less
        // that of as many zero bytes.
        let raw = crc32(0, &delta) ^ crc32(0, &vec![0; delta.len()]);
        self.crc ^ multmodp(self.holes, raw)
    }

    /// Inflates the template with two probes differing at every byte, each with a different
    /// byte at every place of a hole: each must come out in every hole, the rest as it was,
    /// with the CRC-32 that `crc_with` says. A copy the compressor made between a hole and the
    /// text around it, or between two places of a hole, would show under one probe.
    fn checks_out(&self, text: &[u8], hole_starts: &[usize]) -> bool {
        let probe = |first: u8| -> Vec<u8> {
            (0..self.hole_len)
                .map(|i| first + (i % PROBE_PERIOD) as u8)
                .collect()
        };
        let probes = [probe(b'A'), probe(b'a')];
        probes.iter().all(|probe| {
            let mut expected = text.to_vec();
            for &h in hole_starts {
                expected[h..h + self.hole_len].copy_from_slice(probe);
            }
            let mut raw = Vec::with_capacity(self.compressed_len() + self.hole_len + 16);
            raw.extend_from_slice(&self.head);
            if self.has_holes {
                stored_blocks(&mut raw, probe);
                raw.extend_from_slice(&self.tail);
            }
            raw.extend_from_slice(&FINAL_EMPTY_BLOCK);
            inflate(&raw, expected.len()).is_some_and(|out| out == expected)
                && self.crc_with(probe) == crc32(0, &expected)
        })
    }
}

/// A gzip body being put together.
pub struct Gzip {
    out: Vec<u8>,
    crc: u32,
    len: u64,
}

/// gzip's header: deflate, no name or time, unknown OS (RFC 1952).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// An empty stored block marked last: ends the deflate stream at a byte boundary.
const FINAL_EMPTY_BLOCK: [u8; 5] = [1, 0, 0, 0xff, 0xff];

impl Gzip {
    pub fn with_capacity(bytes: usize) -> Gzip {
        let mut out = Vec::with_capacity(bytes + HEADER.len() + 32);
        out.extend_from_slice(&HEADER);
        Gzip {
            out,
            crc: 0,
            len: 0,
        }
    }

    /// `data` as it is, in stored blocks.
    pub fn stored(&mut self, data: &[u8]) {
        stored_blocks(&mut self.out, data);
        self.crc = crc32(self.crc, data);
        self.len += data.len() as u64;
    }

    /// `template` with `fill` in its holes (which must be as long as its placeholder).
    pub fn template(&mut self, template: &Template, fill: &[u8]) {
        debug_assert_eq!(fill.len(), template.hole_len);
        self.out.extend_from_slice(&template.head);
        let crc = if template.has_holes {
            stored_blocks(&mut self.out, fill);
            self.out.extend_from_slice(&template.tail);
            template.crc_with(fill)
        } else {
            template.crc
        };
        self.crc = multmodp(template.shift, self.crc) ^ crc;
        self.len += template.len;
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(&FINAL_EMPTY_BLOCK);
        self.out.extend_from_slice(&self.crc.to_le_bytes());
        // ISIZE is the length modulo 2^32.
        self.out.extend_from_slice(&(self.len as u32).to_le_bytes());
        self.out
    }
}

/// Non-final stored blocks holding `data`; the stream must be at a byte boundary, as every
/// part here leaves it.
fn stored_blocks(out: &mut Vec<u8>, data: &[u8]) {
    for chunk in data.chunks(u16::MAX as usize) {
        let n = chunk.len() as u16;
        out.push(0);
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(!n).to_le_bytes());
        out.extend_from_slice(chunk);
    }
}

/// Raw deflate of `data` with `history` as what came before it, ended by a sync flush (so at
/// a byte boundary, not final).
fn deflate(history: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let mut c = Compress::new(Compression::best(), false);
    if !history.is_empty() {
        c.set_dictionary(history).ok()?;
    }
    let mut out = Vec::with_capacity(data.len() / 4 + 64);
    loop {
        let consumed = c.total_in() as usize;
        if out.len() == out.capacity() {
            out.reserve(out.capacity());
        }
        let status = c
            .compress_vec(&data[consumed..], &mut out, FlushCompress::Sync)
            .ok()?;
        // Done when all is in and the flush had room to finish.
        if c.total_in() as usize == data.len() && out.len() < out.capacity() {
            return Some(out);
        }
        if status == Status::BufError && out.len() < out.capacity() {
            return None;
        }
    }
}

/// Raw inflate of a whole stream expected to give `len` bytes.
fn inflate(raw: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut d = Decompress::new(false);
    let mut out = Vec::with_capacity(len + 1);
    match d.decompress_vec(raw, &mut out, FlushDecompress::Finish) {
        Ok(Status::StreamEnd) => Some(out),
        _ => None,
    }
}

fn crc32(init: u32, data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(init);
    h.update(data);
    h.finalize()
}

/// CRC-32's polynomial, reflected.
const POLY: u32 = 0xedb8_8320;

/// a * b modulo P, both polynomials in CRC-32's reflected order (x^0 is the top bit).
fn multmodp(a: u32, mut b: u32) -> u32 {
    let mut m = 1u32 << 31;
    let mut p = 0;
    while m != 0 {
        if a & m != 0 {
            p ^= b;
        }
        m >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
    }
    p
}

/// x^(2^k) mod P for k in 0..32: repeated squares of x.
const X2N: [u32; 32] = {
    let mut t = [0u32; 32];
    t[0] = 1 << 30;
    let mut k = 1;
    while k < 32 {
        // multmodp(t[k-1], t[k-1]), spelled out for a const context.
        let (a, mut b) = (t[k - 1], t[k - 1]);
        let (mut m, mut p) = (1u32 << 31, 0u32);
        while m != 0 {
            if a & m != 0 {
                p ^= b;
            }
            m >>= 1;
            b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
        }
        t[k] = p;
        k += 1;
    }
    t
};

/// x^(8n) mod P: what appending n bytes multiplies a CRC by.
fn x8nmodp(mut n: u64) -> u32 {
    let mut p = 1u32 << 31;
    let mut k = 3;
    while n != 0 {
        if n & 1 != 0 {
            p = multmodp(X2N[k & 31], p);
        }
        n >>= 1;
        k += 1;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .expect("a valid gzip stream with a matching CRC and length");
        out
    }

    /// Rows much like the team page's: repetitive, each with a token in two places.
    fn rows(n: usize, placeholder: &[u8]) -> (Vec<u8>, Vec<usize>) {
        let (mut text, mut holes) = (Vec::new(), Vec::new());
        for i in 0..n {
            text.extend_from_slice(
                format!("<tr><td>Member {i}</td><td><form><input value=\"").as_bytes(),
            );
            holes.push(text.len());
            text.extend_from_slice(placeholder);
            text.extend_from_slice(
                format!("\"><button>Make admin: Member {i}</button></form><form><input value=\"")
                    .as_bytes(),
            );
            holes.push(text.len());
            text.extend_from_slice(placeholder);
            text.extend_from_slice(b"\"></form></td></tr>");
        }
        (text, holes)
    }

    const PLACEHOLDER: &[u8] = b"\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f";

    fn filled(text: &[u8], holes: &[usize], fill: &[u8]) -> Vec<u8> {
        let mut t = text.to_vec();
        for &h in holes {
            t[h..h + fill.len()].copy_from_slice(fill);
        }
        t
    }

    #[test]
    fn a_body_of_stored_parts_and_a_template_inflates_to_the_page_with_the_fill_everywhere() {
        let (text, holes) = rows(400, PLACEHOLDER);
        let t = Template::build(&text, &holes, PLACEHOLDER).expect("the rows deflate");
        assert!(
            t.compressed_len() * 10 < text.len(),
            "{} of {}",
            t.compressed_len(),
            text.len()
        );
        for fill in [
            &b"tok_en-1234"[..],
            b"ZZZZZZZZZZZZ",
            b"\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f",
        ] {
            if fill.len() != PLACEHOLDER.len() {
                continue;
            }
            let mut gz = Gzip::with_capacity(0);
            gz.stored(b"<html><body><table>");
            gz.template(&t, fill);
            gz.stored(b"</table></body></html>");
            let mut expected = b"<html><body><table>".to_vec();
            expected.extend(filled(&text, &holes, fill));
            expected.extend_from_slice(b"</table></body></html>");
            assert_eq!(gunzip(&gz.finish()), expected);
        }
        let mut gz = Gzip::with_capacity(0);
        gz.template(&t, b"abcdefghijkl");
        assert_eq!(gunzip(&gz.finish()), filled(&text, &holes, b"abcdefghijkl"));
    }

    #[test]
    fn a_text_without_holes_and_parts_past_a_stored_blocks_limit_round_trip() {
        let text: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let t = Template::build(b"<p>the same for everyone</p>", &[], b"").unwrap();
        let mut gz = Gzip::with_capacity(0);
        gz.stored(&text);
        gz.template(&t, b"");
        gz.stored(b"");
        let mut expected = text.clone();
        expected.extend_from_slice(b"<p>the same for everyone</p>");
        assert_eq!(gunzip(&gz.finish()), expected);
    }

    #[test]
    fn a_text_that_holds_a_placeholder_byte_outside_its_holes_gets_no_template() {
        // A copy between the name and a hole would put the name's bytes in the token.
        let (mut text, holes) = rows(20, PLACEHOLDER);
        text.extend_from_slice(b"<td>\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f</td>");
        assert!(Template::build(&text, &holes, PLACEHOLDER).is_none());
    }

    #[test]
    fn holes_longer_than_the_probes_can_check_are_refused() {
        let long: Vec<u8> = (1..=PROBE_PERIOD as u8 + 1).collect();
        let (text, holes) = rows(3, &long);
        assert!(Template::build(&text, &holes, &long).is_none());
        let (text, holes) = rows(3, &long[..PROBE_PERIOD]);
        assert!(Template::build(&text, &holes, &long[..PROBE_PERIOD]).is_some());
    }

    #[test]
    fn holes_that_overlap_or_hold_something_else_are_refused() {
        let (text, holes) = rows(3, PLACEHOLDER);
        assert!(Template::build(&text, &[holes[0], holes[0] + 1], PLACEHOLDER).is_none());
        assert!(Template::build(&text, &[holes[0] + 1], PLACEHOLDER).is_none());
        assert!(Template::build(&text, &[text.len() - 2], PLACEHOLDER).is_none());
    }

    #[test]
    fn the_crc_arithmetic_agrees_with_crc32fast() {
        let a: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 256) as u8).collect();
        let b: Vec<u8> = (0..777u32).map(|i| (i * 13 % 256) as u8).collect();
        let whole = crc32(0, &[a.clone(), b.clone()].concat());
        assert_eq!(
            multmodp(x8nmodp(b.len() as u64), crc32(0, &a)) ^ crc32(0, &b),
            whole
        );
        assert_eq!(x8nmodp(0), 1 << 31);
    }
}
