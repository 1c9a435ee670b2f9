package imagetest

import (
	"bytes"
	"encoding/binary"
	"math/rand"
)

// UPXPacked returns a file laid out as `upx --best` writes an amd64 ELF
// executable (UPX 4, p_lx_elf.cpp), since UPX itself cannot be installed
// here:
//
//	Elf64_Ehdr (64 bytes)   e_phoff=64, e_phnum=2, e_shoff=0, e_shnum=0:
//	                        UPX drops the section header table
//	2 × Elf64_Phdr (56)     PT_LOAD for the stub and the compressed image
//	l_info (12 bytes)       LE32 l_checksum, "UPX!" l_magic, LE16 l_lsize,
//	                        u8 l_version, u8 l_format (22 = UF_LINUX_ELF64_AMD)
//	p_info (12 bytes)       LE32 p_progid, LE32 p_filesize, LE32 p_blocksize
//	b_info + block…         LE32 sz_unc, LE32 sz_cpr, u8 method, ftid, cto8, 0;
//	                        then sz_cpr bytes of compressed data
//	stub                    the decompressor, carrying "$Info: This file is
//	                        packed with the UPX executable packer … $"
//	PackHeader (32 bytes)   "UPX!", version, format, method, level,
//	                        LE32 u_adler, c_adler, u_len, c_len, u_file_size,
//	                        filter, filter_cto, n_mru, header_checksum
//	LE32 overlay offset     last 4 bytes of the file
//
// It is not a working program: the gates judge layout, never run it.
func UPXPacked() []byte {
	le := binary.LittleEndian
	var b bytes.Buffer
	ehdr := make([]byte, 64)
	copy(ehdr, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1})
	le.PutUint16(ehdr[0x10:], 2)  // ET_EXEC
	le.PutUint16(ehdr[0x12:], 62) // EM_X86_64
	le.PutUint32(ehdr[0x14:], 1)  // EV_CURRENT
	le.PutUint64(ehdr[0x18:], 0x401000)
	le.PutUint64(ehdr[0x20:], 64) // e_phoff
	le.PutUint16(ehdr[0x34:], 64) // e_ehsize
	le.PutUint16(ehdr[0x36:], 56) // e_phentsize
	le.PutUint16(ehdr[0x38:], 2)  // e_phnum
	le.PutUint16(ehdr[0x3a:], 64) // e_shentsize
	b.Write(ehdr)
	for i := 0; i < 2; i++ {
		ph := make([]byte, 56)
		le.PutUint32(ph[0:], 1) // PT_LOAD
		le.PutUint32(ph[4:], 5) // R+X
		le.PutUint64(ph[0x10:], 0x400000+uint64(i)*0x100000)
		b.Write(ph)
	}
	linfo := make([]byte, 12)
	le.PutUint32(linfo[0:], 0xdeadbeef)
	copy(linfo[4:], "UPX!")
	le.PutUint16(linfo[8:], 0x1234)
	linfo[10], linfo[11] = 13, 22
	b.Write(linfo)
	pinfo := make([]byte, 12)
	le.PutUint32(pinfo[4:], 6_000_000)
	le.PutUint32(pinfo[8:], 6_000_000)
	b.Write(pinfo)
	block := make([]byte, 100_000)
	rand.New(rand.NewSource(7)).Read(block)
	binfo := make([]byte, 12)
	le.PutUint32(binfo[0:], 6_000_000)
	le.PutUint32(binfo[4:], uint32(len(block)))
	binfo[8] = 14 // M_LZMA
	b.Write(binfo)
	b.Write(block)
	b.WriteString("\x00$Info: This file is packed with the UPX executable packer http://upx.sf.net $\n")
	b.WriteString("$Id: UPX 4.24 Copyright (C) 1996-2024 the UPX Team. All Rights Reserved. $\n")
	ph := make([]byte, 32)
	copy(ph, "UPX!")
	ph[4], ph[5], ph[6], ph[7] = 13, 22, 14, 10
	b.Write(ph)
	off := make([]byte, 4)
	le.PutUint32(off, uint32(b.Len()))
	b.Write(off)
	return b.Bytes()
}
