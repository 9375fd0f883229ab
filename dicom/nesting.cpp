/* nesting.cpp: the nesting scan. Before DCMTK (whose parser recurses once per sequence and item)
 * reads a dataset, its encoding is walked here without recursion: explicit and implicit VR,
 * little and big endian, defined and undefined lengths, items and delimiters, deflated transfer
 * syntax through zlib. A dataset nested deeper than the limit is refused, with a reason. */
#include "dicom_int.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>
#include <zlib.h>

#include "dcmtk/dcmdata/dctag.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcvr.h"

static std::atomic<unsigned> g_max_depth{HUREN_DICOM_MAX_SEQUENCE_DEPTH};
static std::atomic<uint64_t> g_refused{0};

static const uint32_t UNDEF = 0xFFFFFFFFu;
static const uint64_t OPEN_END = UINT64_MAX;

namespace
{
/* Where bytes come from: fill() gives up to n bytes (0 at the end, -1 on error); skip() passes
 * over n bytes not read yet, false if fewer are left. */
struct Reader {
    virtual ~Reader() = default;
    virtual long fill(unsigned char *buf, size_t n) = 0;
    virtual bool skip(uint64_t n)
    {
        unsigned char scratch[16384];
        while (n > 0) {
            long r = fill(scratch, n < sizeof(scratch) ? (size_t)n : sizeof(scratch));
            if (r <= 0)
                return false;
            n -= (uint64_t)r;
        }
        return true;
    }
};

struct MemReader : Reader {
    const unsigned char *p;
    size_t left;
    MemReader(const void *buf, size_t len) : p((const unsigned char *)buf), left(len) {}
    long fill(unsigned char *buf, size_t n) override
    {
        size_t k = n < left ? n : left;
        if (k) /* an empty buffer may be NULL */
            memcpy(buf, p, k);
        p += k;
        left -= k;
        return (long)k;
    }
    bool skip(uint64_t n) override
    {
        if (n > left)
            return false;
        p += n;
        left -= (size_t)n;
        return true;
    }
};

struct FileReader : Reader {
    FILE *fp;
    uint64_t off, size;
    FileReader(FILE *f, uint64_t sz) : fp(f), off(0), size(sz) {}
    long fill(unsigned char *buf, size_t n) override
    {
        size_t k = fread(buf, 1, n, fp);
        if (k == 0 && ferror(fp))
            return -1;
        off += k;
        return (long)k;
    }
    bool skip(uint64_t n) override
    {
        if (n > size - off || fseeko(fp, (off_t)(off + n), SEEK_SET) != 0)
            return false;
        off += n;
        return true;
    }
};

/* A buffered cursor over a reader: need(n) makes n (<= 16) bytes contiguous at cur(). */
struct Stream {
    Reader &r;
    unsigned char buf[65536];
    size_t head = 0, tail = 0;
    uint64_t pos = 0; /* offset of cur() from the start */
    bool error = false;
    explicit Stream(Reader &rd) : r(rd) {}
    size_t avail() const
    {
        return tail - head;
    }
    const unsigned char *cur() const
    {
        return buf + head;
    }
    bool need(size_t n)
    {
        if (avail() >= n)
            return true;
        memmove(buf, buf + head, avail());
        tail -= head;
        head = 0;
        while (tail < n) {
            long k = r.fill(buf + tail, sizeof(buf) - tail);
            if (k < 0)
                error = true;
            if (k <= 0)
                return false;
            tail += (size_t)k;
        }
        return true;
    }
    void consume(size_t n)
    {
        head += n;
        pos += n;
    }
    bool skip(uint64_t n)
    {
        size_t here = n < avail() ? (size_t)n : avail();
        consume(here);
        n -= here;
        if (n == 0)
            return true;
        if (!r.skip(n))
            return false;
        pos += n;
        return true;
    }
    /* up to n bytes into out, for a reader stacked on this stream (inflate) */
    long take(unsigned char *out, size_t n)
    {
        if (avail() == 0 && !need(1))
            return error ? -1 : 0;
        size_t k = n < avail() ? n : avail();
        memcpy(out, cur(), k);
        consume(k);
        return (long)k;
    }
};

/* The deflated dataset of a Part-10 file (PS3.5 A.5): raw deflate after the meta header. */
struct InflateReader : Reader {
    Stream &src;
    z_stream z;
    unsigned char in[16384];
    bool ok = false, end = false;
    explicit InflateReader(Stream &s) : src(s)
    {
        memset(&z, 0, sizeof(z));
        ok = inflateInit2(&z, -MAX_WBITS) == Z_OK;
    }
    ~InflateReader() override
    {
        if (ok)
            inflateEnd(&z);
    }
    long fill(unsigned char *buf, size_t n) override
    {
        if (!ok)
            return -1;
        if (end)
            return 0;
        z.next_out = buf;
        z.avail_out = (uInt)n;
        while (z.avail_out == n) {
            if (z.avail_in == 0) {
                long k = src.take(in, sizeof(in));
                if (k < 0)
                    return -1;
                if (k == 0)
                    return -1; /* compressed stream ends before its end marker */
                z.next_in = in;
                z.avail_in = (uInt)k;
            }
            int rc = inflate(&z, Z_NO_FLUSH);
            if (rc == Z_STREAM_END) {
                end = true;
                break;
            }
            if (rc != Z_OK)
                return -1;
        }
        return (long)(n - z.avail_out);
    }
};

struct Enc {
    bool explicit_vr, big_endian;
};

uint16_t u16(const unsigned char *p, bool be)
{
    return be ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

uint32_t u32(const unsigned char *p, bool be)
{
    return be ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3])
              : ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]);
}

enum Kind { SEQ, ITEM, FRAGMENTS };

struct Level {
    Kind kind;
    uint64_t end; /* OPEN_END for an undefined length */
    Enc enc;      /* how the items' contents are encoded */
};

struct Scan {
    Stream &s;
    unsigned max_depth;
    unsigned depth = 0, deepest = 0;
    std::vector<Level> st;
    std::string why;
    Scan(Stream &st_, unsigned max) : s(st_), max_depth(max) {}

    int corrupt(const char *what)
    {
        why = what;
        return HUREN_DICOM_ECORRUPT;
    }
    /* The end of a new container or value, which must lie within the innermost defined one. */
    bool fits(uint64_t len) const
    {
        for (auto it = st.rbegin(); it != st.rend(); ++it)
            if (it->end != OPEN_END)
                return s.pos + len <= it->end;
        return true;
    }
    int push(Kind k, uint32_t len, Enc enc, uint16_t g, uint16_t e)
    {
        if (len != UNDEF && !fits(len))
            return corrupt("a sequence runs past the end of the item that holds it");
        if (k == SEQ && ++depth > max_depth) {
            char b[160];
            snprintf(b, sizeof(b),
                     "sequences nested deeper than %u levels (at (%04X,%04X), offset %llu)",
                     max_depth, g, e, (unsigned long long)s.pos);
            why = b;
            return HUREN_DICOM_ETOODEEP;
        }
        if (depth > deepest)
            deepest = depth;
        st.push_back({k, len == UNDEF ? OPEN_END : s.pos + len, enc});
        return 0;
    }
    void pop()
    {
        if (st.back().kind == SEQ)
            depth--;
        st.pop_back();
    }
    int item_tag(uint16_t e, uint32_t len);
    int element(const Enc &enc, uint16_t g, uint16_t e);
    int run(Enc top);
};

/* (FFFE,E000) item, (FFFE,E00D) item end, (FFFE,E0DD) sequence end; header consumed. */
int Scan::item_tag(uint16_t e, uint32_t len)
{
    if (e == 0xE000) {
        if (st.empty() || st.back().kind == ITEM)
            return corrupt("an item outside a sequence");
        if (st.back().kind == FRAGMENTS) {
            if (len == UNDEF || !fits(len) || !s.skip(len))
                return corrupt("a pixel data fragment is truncated");
            return 0;
        }
        return push(ITEM, len, st.back().enc, 0xFFFE, e);
    }
    /* delimiters that close nothing open are tolerated, as DCMTK does */
    if (e == 0xE00D) {
        if (!st.empty() && st.back().kind == ITEM && st.back().end == OPEN_END)
            pop();
    } else if (e == 0xE0DD) {
        if (!st.empty() && st.back().kind == ITEM && st.back().end == OPEN_END)
            pop(); /* the item's own delimiter is missing */
        if (!st.empty() && st.back().kind != ITEM && st.back().end == OPEN_END)
            pop();
    } else if (len != UNDEF && !s.skip(len)) {
        return corrupt("truncated");
    }
    return 0;
}

/* A data element whose tag (g,e) is at cur(): a value is skipped, a sequence entered. */
int Scan::element(const Enc &enc, uint16_t g, uint16_t e)
{
    size_t hdr = 8;
    uint32_t len;
    bool sq = false, un = false, frags = false;
    if (enc.explicit_vr) {
        char vr[3] = {(char)s.cur()[4], (char)s.cur()[5], 0};
        DcmVR dvr(vr);
        if (dvr.usesExtendedLengthEncoding()) {
            if (!s.need(12))
                return corrupt("truncated");
            hdr = 12;
            len = u32(s.cur() + 8, enc.big_endian);
        } else {
            len = u16(s.cur() + 6, enc.big_endian);
        }
        sq = strcmp(vr, "SQ") == 0;
        if (len == UNDEF && !sq) {
            un = strcmp(vr, "UN") == 0; /* PS3.5 6.2.2: a sequence in implicit VR LE */
            frags = !un;                /* encapsulated pixel data */
        }
    } else {
        len = u32(s.cur() + 4, enc.big_endian);
        DcmTag tag(g, e);
        sq = tag.getEVR() == EVR_SQ;
        if (len == UNDEF && !sq) {
            frags = g == 0x7FE0 && e == 0x0010;
            sq = !frags; /* DCMTK reads any other undefined length as a sequence */
        }
        if (!sq && !frags && len >= 8 && ((g & 1) || tag.getEVR() == EVR_UNKNOWN) &&
            s.need(hdr + 4)) {
            /* a private or unknown element that starts with an item: DCMTK may read it as a
             * sequence (its private dictionary), so it is counted as one */
            const unsigned char *v = s.cur() + hdr;
            sq = u16(v, enc.big_endian) == 0xFFFE && u16(v + 2, enc.big_endian) == 0xE000;
        }
    }
    s.consume(hdr);
    if (sq || un)
        return push(SEQ, len, un ? Enc{false, false} : enc, g, e);
    if (frags)
        return push(FRAGMENTS, len, enc, g, e);
    if (!fits(len))
        return corrupt("an element runs past the end of its item");
    if (!s.skip(len))
        return corrupt("truncated: an element is longer than the data left");
    return 0;
}

int Scan::run(Enc top)
{
    for (;;) {
        while (!st.empty() && st.back().end != OPEN_END && s.pos >= st.back().end) {
            if (s.pos > st.back().end)
                return corrupt("an element runs past the end of its item");
            pop();
        }
        const Enc &enc = st.empty() ? top : st.back().enc;
        if (!s.need(8)) {
            if (s.error)
                return corrupt("read error");
            for (const Level &l : st)
                if (l.end != OPEN_END)
                    return corrupt("truncated: a sequence or item is longer than the data");
            return 0; /* the end (a few trailing bytes are left to DCMTK to judge) */
        }
        uint16_t g = u16(s.cur(), enc.big_endian), e = u16(s.cur() + 2, enc.big_endian);
        if (g == 0xFFFE) {
            uint32_t len = u32(s.cur() + 4, enc.big_endian);
            s.consume(8);
            int rc = item_tag(e, len);
            if (rc)
                return rc;
            continue;
        }
        int rc = element(enc, g, e);
        if (rc)
            return rc;
    }
}

Enc enc_of(const char *ts, bool *deflated)
{
    *deflated = false;
    if (!ts || strcmp(ts, UID_LittleEndianImplicitTransferSyntax) == 0)
        return {false, false};
    if (strcmp(ts, UID_BigEndianExplicitTransferSyntax) == 0)
        return {true, true};
    if (strcmp(ts, UID_DeflatedExplicitVRLittleEndianTransferSyntax) == 0)
        *deflated = true;
    return {true, false}; /* every other transfer syntax is explicit VR little endian */
}

/* A dataset that is not in a Part-10 file: its first element says how it is encoded. */
Enc guess_enc(Stream &s)
{
    if (!s.need(8))
        return {true, false};
    const unsigned char *b = s.cur();
    bool explicit_vr = b[4] >= 'A' && b[4] <= 'Z' && b[5] >= 'A' && b[5] <= 'Z';
    unsigned le = b[0] | b[1] << 8, be = b[0] << 8 | b[1];
    return {explicit_vr, be == 0x0008 && le != 0x0008};
}

/* The meta header of a Part-10 file (explicit VR LE, group 0002): skipped, its transfer
 * syntax kept. Returns 0, or ECORRUPT with why. */
int read_meta(Stream &s, std::string &ts, std::string &why)
{
    while (s.need(8) && s.cur()[0] == 0x02 && s.cur()[1] == 0x00) {
        uint16_t e = u16(s.cur() + 2, false);
        char vr[3] = {(char)s.cur()[4], (char)s.cur()[5], 0};
        size_t hdr = 8;
        uint32_t len = u16(s.cur() + 6, false);
        if (DcmVR(vr).usesExtendedLengthEncoding()) {
            if (!s.need(12))
                break;
            hdr = 12;
            len = u32(s.cur() + 8, false);
        }
        if (len == UNDEF) {
            why = "undefined length in the meta header";
            return HUREN_DICOM_ECORRUPT;
        }
        s.consume(hdr);
        if (e == 0x0010 && len <= 64 && s.need(len)) {
            ts.assign((const char *)s.cur(), len);
            while (!ts.empty() && (ts.back() == '\0' || ts.back() == ' '))
                ts.pop_back();
        }
        if (!s.skip(len)) {
            why = "truncated meta header";
            return HUREN_DICOM_ECORRUPT;
        }
    }
    return 0;
}

int finish(int rc, const std::string &why, unsigned deepest, unsigned *depth, char *err,
           size_t errlen)
{
    if (depth)
        *depth = deepest;
    if (rc == HUREN_DICOM_ETOODEEP)
        g_refused++;
    if (rc)
        huren_dicom__seterr(err, errlen, "%s", why.c_str());
    return rc;
}

/* A dataset encoded as ts (NULL: implicit VR LE) in s; deflated ones are inflated first. */
int scan_stream(Stream &s, const char *ts, bool guess, unsigned max_depth, unsigned *depth,
                char *err, size_t errlen)
{
    bool deflated = false;
    Enc enc = guess ? guess_enc(s) : enc_of(ts, &deflated);
    if (!deflated) {
        Scan sc(s, max_depth);
        int rc = sc.run(enc);
        return finish(rc, sc.why, sc.deepest, depth, err, errlen);
    }
    InflateReader inf(s);
    std::unique_ptr<Stream> ds(new Stream(inf));
    Scan sc(*ds, max_depth);
    int rc = sc.run(enc);
    if (rc == HUREN_DICOM_ECORRUPT && ds->error)
        sc.why = "deflated dataset does not inflate";
    return finish(rc, sc.why, sc.deepest, depth, err, errlen);
}
} // namespace

extern "C" void huren_dicom_max_sequence_depth_set(unsigned depth)
{
    g_max_depth = depth ? depth : HUREN_DICOM_MAX_SEQUENCE_DEPTH;
}

extern "C" unsigned huren_dicom_max_sequence_depth(void)
{
    return g_max_depth.load();
}

extern "C" uint64_t huren_dicom_depth_refused(void)
{
    return g_refused.load();
}

extern "C" int huren_dicom_nesting_scan(const void *buf, size_t len, const char *transfer_syntax,
                                        unsigned max_depth, unsigned *depth, char *err,
                                        size_t errlen)
{
    if (!buf && len) {
        huren_dicom__seterr(err, errlen, "huren_dicom_nesting_scan: NULL buffer");
        return HUREN_DICOM_EINVAL;
    }
    try {
        MemReader mr(buf, len);
        std::unique_ptr<Stream> s(new Stream(mr));
        return scan_stream(*s, transfer_syntax, false, max_depth, depth, err, errlen);
    } catch (...) {
        huren_dicom__seterr(err, errlen, "nesting scan: out of memory");
        return HUREN_DICOM_ERROR;
    }
}

extern "C" int huren_dicom_nesting_scan_file(const char *path, unsigned max_depth, unsigned *depth,
                                             char *err, size_t errlen)
{
    FILE *fp = path ? fopen(path, "rb") : NULL;
    struct stat sb;
    if (!fp || fstat(fileno(fp), &sb) != 0) {
        huren_dicom__seterr(err, errlen, "%s: %s", path ? path : "(null)", strerror(errno));
        if (fp)
            fclose(fp);
        return HUREN_DICOM_EIO;
    }
    int rc;
    try {
        FileReader fr(fp, (uint64_t)sb.st_size);
        std::unique_ptr<Stream> s(new Stream(fr));
        bool part10 = s->need(132) && memcmp(s->cur() + 128, "DICM", 4) == 0;
        std::string ts, why;
        if (part10) {
            s->consume(132);
            rc = read_meta(*s, ts, why);
            if (rc)
                rc = finish(rc, why, 0, depth, err, errlen);
            else
                /* without a transfer syntax DCMTK guesses from the dataset: so do we */
                rc = scan_stream(*s, ts.c_str(), ts.empty(), max_depth, depth, err, errlen);
        } else {
            rc = scan_stream(*s, NULL, true, max_depth, depth, err, errlen);
        }
    } catch (...) {
        huren_dicom__seterr(err, errlen, "nesting scan: out of memory");
        rc = HUREN_DICOM_ERROR;
    }
    fclose(fp);
    return rc;
}
