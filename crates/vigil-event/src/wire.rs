//! Little-endian reading and writing of fixed-layout records, without `unsafe`
//! and without trusting the input: every read is bounds-checked.

pub trait Wire: Sized {
    const SIZE: usize;
    fn read(r: &mut Reader<'_>) -> Option<Self>;
    fn write(&self, w: &mut Writer);
}

pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos.min(self.buf.len())..];
        self.pos = self.buf.len();
        s
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}

#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn put(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
}

macro_rules! wire_int {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn read(r: &mut Reader<'_>) -> Option<Self> {
                r.array().map(<$t>::from_le_bytes)
            }
            fn write(&self, w: &mut Writer) {
                w.put(&self.to_le_bytes());
            }
        }
    )*};
}
wire_int!(u16, u32, u64, i32, i64);

impl<const N: usize> Wire for [u8; N] {
    const SIZE: usize = N;
    fn read(r: &mut Reader<'_>) -> Option<Self> {
        r.array()
    }
    fn write(&self, w: &mut Writer) {
        w.put(self);
    }
}
