"""A G.722 decoder (64 kbit/s mode: one byte per pair of 16 kHz samples), standard library only.

Written after the ITU-T G.722 algorithm as laid out in the public-domain spandsp decoder: two
ADPCM sub-bands (6-bit low band, 2-bit high band) and the receive QMF. Used to read Asterisk's
*.g722 prompts, which sox cannot decode.
"""

QMF = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11]
WL = [-60, -30, 58, 172, 334, 538, 1198, 3042]
RL42 = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0]
ILB = [2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774,
       2834, 2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838,
       3922, 4008]
QM4 = [0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
       1200, 0]
QM6 = [-136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192,
       -10232, -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168,
       -2776, -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512,
       12280, 11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168,
       2776, 2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136]
QM2 = [-7408, -1616, 7408, 1616]
WH = [0, -214, 798]
RH2 = [2, 1, 2, 1]


def _sat(x):
    return 32767 if x > 32767 else (-32768 if x < -32768 else x)


class _Band:
    def __init__(self, det):
        self.s = self.sp = self.sz = self.nb = 0
        self.det = det
        self.r = [0, 0, 0]
        self.a = [0, 0, 0]
        self.ap = [0, 0, 0]
        self.p = [0, 0, 0]
        self.d = [0] * 7
        self.b = [0] * 7
        self.bp = [0] * 7
        self.sg = [0] * 7

    def update(self, d):
        """Block 4: reconstruction, pole/zero predictor adaptation, prediction."""
        sg, p, a, ap = self.sg, self.p, self.a, self.ap
        self.d[0] = d
        self.r[0] = _sat(self.s + d)
        p[0] = _sat(self.sz + d)
        for i in range(3):
            sg[i] = p[i] >> 15
        wd1 = _sat(a[1] << 2)
        wd2 = -wd1 if sg[0] == sg[1] else wd1
        if wd2 > 32767:
            wd2 = 32767
        wd3 = (wd2 >> 7) + (128 if sg[0] == sg[2] else -128)
        wd3 += (a[2] * 32512) >> 15
        ap[2] = max(-12288, min(12288, wd3))
        sg[0] = p[0] >> 15
        sg[1] = p[1] >> 15
        wd1 = 192 if sg[0] == sg[1] else -192
        wd2 = (a[1] * 32640) >> 15
        ap[1] = _sat(wd1 + wd2)
        wd3 = _sat(15360 - ap[2])
        if ap[1] > wd3:
            ap[1] = wd3
        elif ap[1] < -wd3:
            ap[1] = -wd3
        wd1 = 0 if d == 0 else 128
        sg[0] = d >> 15
        for i in range(1, 7):
            sg[i] = self.d[i] >> 15
            wd2 = wd1 if sg[i] == sg[0] else -wd1
            wd3 = (self.b[i] * 32640) >> 15
            self.bp[i] = _sat(wd2 + wd3)
        for i in range(6, 0, -1):
            self.d[i] = self.d[i - 1]
            self.b[i] = self.bp[i]
        for i in (2, 1):
            self.r[i] = self.r[i - 1]
            p[i] = p[i - 1]
            a[i] = ap[i]
        wd1 = (a[1] * _sat(self.r[1] + self.r[1])) >> 15
        wd2 = (a[2] * _sat(self.r[2] + self.r[2])) >> 15
        self.sp = _sat(wd1 + wd2)
        sz = 0
        for i in range(6, 0, -1):
            sz += (self.b[i] * _sat(self.d[i] + self.d[i])) >> 15
        self.sz = _sat(sz)
        self.s = _sat(self.sp + self.sz)


def decode(data):
    """G.722 bytes (64 kbit/s) -> list of 16-bit samples at 16 kHz."""
    low, high = _Band(32), _Band(8)
    x = [0] * 24
    out = []
    for code in data:
        wd1 = code & 0x3F
        ihigh = (code >> 6) & 0x03
        # low band
        rlow = low.s + ((low.det * QM6[wd1]) >> 15)
        rlow = max(-16384, min(16383, rlow))
        wd1 >>= 2
        dlow = (low.det * QM4[wd1]) >> 15
        nb = ((low.nb * 127) >> 7) + WL[RL42[wd1]]
        low.nb = nb = max(0, min(18432, nb))
        shift = 8 - (nb >> 11)
        e = ILB[(nb >> 6) & 31]
        low.det = (e << -shift if shift < 0 else e >> shift) << 2
        low.update(dlow)
        # high band
        dhigh = (high.det * QM2[ihigh]) >> 15
        rhigh = max(-16384, min(16383, dhigh + high.s))
        nb = ((high.nb * 127) >> 7) + WH[RH2[ihigh]]
        high.nb = nb = max(0, min(22528, nb))
        shift = 10 - (nb >> 11)
        e = ILB[(nb >> 6) & 31]
        high.det = (e << -shift if shift < 0 else e >> shift) << 2
        high.update(dhigh)
        # receive QMF
        del x[:2]
        x.append(rlow + rhigh)
        x.append(rlow - rhigh)
        xout1 = xout2 = 0
        for i in range(12):
            xout2 += x[2 * i] * QMF[i]
            xout1 += x[2 * i + 1] * QMF[11 - i]
        out.append(_sat(xout1 >> 11))
        out.append(_sat(xout2 >> 11))
    return out


def write_wav(path, samples, rate=16000):
    import struct
    import wave
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack("<%dh" % len(samples), *samples))
