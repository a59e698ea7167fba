#include "go_asm.h"
#include "textflag.h"

// func castagnoliSSE42(crc uint32, p []byte) uint32
//
// The CRC-32C of p continuing from crc (pre- and post-inverted, like hash/crc32.Update),
// with the SSE4.2 CRC32 instruction: 32 bytes per loop iteration, then 8, 4, 2 and 1.
// Unaligned loads are fine on every CPU with SSE4.2.
TEXT ·castagnoliSSE42(SB), NOSPLIT, $0-36
	MOVL crc+0(FP), AX
	MOVQ p_base+8(FP), SI
	MOVQ p_len+16(FP), CX
	NOTL AX
	CMPQ CX, $32
	JB   tail8

loop32:
	CRC32Q 0(SI), AX
	CRC32Q 8(SI), AX
	CRC32Q 16(SI), AX
	CRC32Q 24(SI), AX
	ADDQ   $32, SI
	SUBQ   $32, CX
	CMPQ   CX, $32
	JAE    loop32

tail8:
	CMPQ   CX, $8
	JB     tail4
	CRC32Q (SI), AX
	ADDQ   $8, SI
	SUBQ   $8, CX
	JMP    tail8

tail4:
	CMPQ   CX, $4
	JB     tail2
	CRC32L (SI), AX
	ADDQ   $4, SI
	SUBQ   $4, CX

tail2:
	CMPQ   CX, $2
	JB     tail1
	CRC32W (SI), AX
	ADDQ   $2, SI
	SUBQ   $2, CX

tail1:
	CMPQ   CX, $1
	JB     done
	CRC32B (SI), AX

done:
	NOTL AX
	MOVL AX, ret+32(FP)
	RET

// See the constants in crc_amd64.go.
#define SEG const_maxSegWords
#define EXTRA const_tripleExtraWords
#define MINW const_tripleMinWords

// func castagnoliTriple(crc uint32, p []byte) uint32
//
// castagnoliSSE42 with three independent chains of CRC32 instructions, so that the CRC32
// unit is busy every cycle rather than waiting out each instruction's latency. First the
// len(p)%8 odd bytes (continuing crc), then the words of p in segments of at most SEG
// words. A segment of s words is split into runs A, B and C of a, a and c = s-2a words,
// c about a+EXTRA: A continues the running CRC, B and C start from 0 and run alongside
// it. The CRC of the segment is then A shifted past B and C, XOR B shifted past C, XOR
// C, where shifting a raw CRC state by n bytes (feeding n zero bytes) multiplies it by
// x^(8n) mod P. That is one PCLMULQDQ with castagnoliK[n/8] = x^(8n-33) mod P
// (bit-reflected), whose 64-bit product, XORed into the last word of C before C's last
// CRC32Q, is multiplied by the remaining x^33 and reduced by that instruction. C is the
// longest run so that the shifts of A and B overlap its last words.
//
// Needs SSE4.2 and PCLMULQDQ.
TEXT ·castagnoliTriple(SB), NOSPLIT, $0-36
	MOVL crc+0(FP), AX
	MOVQ p_base+8(FP), SI
	MOVQ p_len+16(FP), CX
	NOTL AX

	// The odd bytes first, so that the rest is whole words.
	TESTQ $1, CX
	JZ    odd2
	CRC32B (SI), AX
	INCQ  SI

odd2:
	TESTQ $2, CX
	JZ    odd4
	CRC32W (SI), AX
	ADDQ  $2, SI

odd4:
	TESTQ $4, CX
	JZ    words
	CRC32L (SI), AX
	ADDQ  $4, SI

words:
	SHRQ $3, CX                // CX = words left
	LEAQ ·castagnoliK(SB), R8

segment:
	CMPQ CX, $MINW
	JB   serial
	MOVQ CX, R9                // R9 = s, the words in this segment
	CMPQ R9, $SEG
	JBE  split
	MOVQ $SEG, R9

split:
	SUBQ R9, CX

	// R10 = a = (s-EXTRA)/3 (by multiplying with 2^33/3, exact for s < 2^32)
	LEAQ  -EXTRA(R9), R10
	MOVL  $0xAAAAAAAB, R11
	IMULQ R11, R10
	SHRQ  $33, R10

	// R11 = c = s-2a; the shifts are x^(64(a+c)) for A and x^(64c) for B.
	MOVQ R9, R11
	SUBQ R10, R11
	SUBQ R10, R11
	SUBQ R10, R9
	MOVQ (R8)(R9*8), X2
	MOVQ (R8)(R11*8), X3

	// B at DI, C at R13, starting from 0.
	LEAQ (SI)(R10*8), DI
	LEAQ (DI)(R10*8), R13
	XORL BX, BX
	XORL DX, DX
	MOVQ R10, R12

loop3:
	CRC32Q (SI), AX
	CRC32Q (DI), BX
	CRC32Q (R13), DX
	ADDQ   $8, SI
	ADDQ   $8, DI
	ADDQ   $8, R13
	DECQ   R12
	JNZ    loop3

	// The rest of C but its last word (c > a).
	SUBQ R10, R11
	DECQ R11
	JZ   combine

loopc:
	CRC32Q (R13), DX
	ADDQ   $8, R13
	DECQ   R11
	JNZ    loopc

combine:
	MOVQ      AX, X0
	MOVQ      BX, X1
	PCLMULQDQ $0x00, X2, X0
	PCLMULQDQ $0x00, X3, X1
	PXOR      X1, X0
	MOVQ      X0, AX
	XORQ      (R13), AX
	CRC32Q    AX, DX
	MOVL      DX, AX
	LEAQ      8(R13), SI
	JMP       segment

serial:
	TESTQ CX, CX
	JZ    done

loop1:
	CRC32Q (SI), AX
	ADDQ   $8, SI
	DECQ   CX
	JNZ    loop1

done:
	NOTL AX
	MOVL AX, ret+32(FP)
	RET
