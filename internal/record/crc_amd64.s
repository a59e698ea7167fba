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
