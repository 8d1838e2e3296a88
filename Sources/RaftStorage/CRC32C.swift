import CRC32CHardware

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), slicing-by-8.
///
/// Castagnoli rather than the zip CRC-32 because its error detection is better for the record sizes a
/// log holds and it is what other logs (ext4, iSCSI, LevelDB) use, so tools can check our files.
package enum CRC32C {
    /// Eight 256-entry tables: table k gives the CRC of a byte followed by k zero bytes.
    private static let tables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1
            }
            tables[byte] = crc
        }
        for byte in 0..<256 {
            for k in 1..<8 {
                let previous = tables[(k - 1) * 256 + byte]
                tables[k * 256 + byte] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
            }
        }
        return tables
    }()

    /// The CRC-32C of `bytes`.
    package static func checksum(_ bytes: some Collection<UInt8>) -> UInt32 {
        update(0, bytes)
    }

    /// Continues `crc` (a finished CRC of earlier bytes) over `bytes`.
    package static func update(_ crc: UInt32, _ bytes: some Collection<UInt8>) -> UInt32 {
        if let result = bytes.withContiguousStorageIfAvailable({ update(crc, UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return Array(bytes).withUnsafeBytes { update(crc, $0) }
    }

    /// The CRC of `a` followed by `b`, from the CRC of `a`, the CRC of `b` and `b`'s length (zlib's
    /// `crc32_combine`): a file whose header is known only after its data can still be checksummed in
    /// one pass over the data.
    package static func combine(_ first: UInt32, _ second: UInt32, secondLength: Int) -> UInt32 {
        guard secondLength > 0 else { return first }
        // Operators on the CRC register over GF(2): `odd` appends one zero bit, squaring doubles.
        var odd = [UInt32](repeating: 0, count: 32)
        var even = [UInt32](repeating: 0, count: 32)
        odd[0] = 0x82F6_3B78
        for bit in 1..<32 { odd[bit] = 1 << (bit - 1) }
        square(&even, odd)  // two zero bits
        square(&odd, even)  // four zero bits
        var crc = first
        var length = secondLength
        // Appends `secondLength` zero bytes to `first`, one power of two at a time.
        while length != 0 {
            square(&even, odd)
            if length & 1 != 0 { crc = times(even, crc) }
            length >>= 1
            guard length != 0 else { break }
            square(&odd, even)
            if length & 1 != 0 { crc = times(odd, crc) }
            length >>= 1
        }
        return crc ^ second
    }

    private static func times(_ matrix: [UInt32], _ vector: UInt32) -> UInt32 {
        var sum: UInt32 = 0
        var vector = vector
        var row = 0
        while vector != 0 {
            if vector & 1 != 0 { sum ^= matrix[row] }
            vector >>= 1
            row += 1
        }
        return sum
    }

    private static func square(_ result: inout [UInt32], _ matrix: [UInt32]) {
        for row in 0..<32 { result[row] = times(matrix, matrix[row]) }
    }

    /// Whether the CPU computes it (`CRC32CHardware`): about ten times the tables' speed.
    private static let hardware = rafthost_crc32c_hardware_available() != 0

    private static func update(_ crc: UInt32, _ buffer: UnsafeRawBufferPointer) -> UInt32 {
        if hardware {
            guard let base = buffer.baseAddress else { return crc }
            return ~rafthost_crc32c_hardware_update(~crc, base, buffer.count)
        }
        return tableUpdate(crc, buffer)
    }

    /// The portable computation; `package` so tests compare it with the instruction's.
    package static func tableUpdate(_ crc: UInt32, _ buffer: UnsafeRawBufferPointer) -> UInt32 {
        tables.withUnsafeBufferPointer { table in
            var crc = ~crc
            var position = 0
            let count = buffer.count
            while count - position >= 8 {
                let low = crc ^ buffer.loadUnaligned(fromByteOffset: position, as: UInt32.self).littleEndian
                let high = buffer.loadUnaligned(fromByteOffset: position + 4, as: UInt32.self).littleEndian
                crc =
                    table[7 * 256 + Int(low & 0xFF)] ^ table[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ table[5 * 256 + Int((low >> 16) & 0xFF)] ^ table[4 * 256 + Int(low >> 24)]
                    ^ table[3 * 256 + Int(high & 0xFF)] ^ table[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ table[1 * 256 + Int((high >> 16) & 0xFF)] ^ table[Int(high >> 24)]
                position += 8
            }
            while position < count {
                crc = (crc >> 8) ^ table[Int((crc ^ UInt32(buffer[position])) & 0xFF)]
                position += 1
            }
            return ~crc
        }
    }
}
