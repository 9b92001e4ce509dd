"""Reading back what the producers wrote, and sample sync-format records."""

from __future__ import annotations

import time

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord


def read_records(bootstrap: str, topic: str, timeout_s: float = 60) -> list[ConsumerRecord]:
    """Every record of a topic, in offset order within each partition."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        out: list[ConsumerRecord] = []
        remaining = {tp for tp in partitions if ends[tp] > 0}
        deadline = time.monotonic() + timeout_s
        while remaining:
            assert time.monotonic() < deadline, f"could not read {topic} to its end in {timeout_s} s"
            for records in consumer.poll(timeout_ms=1000).values():
                out += records
            remaining = {tp for tp in remaining if consumer.position(tp) < ends[tp]}
        return out
    finally:
        consumer.close()


def read_topic(bootstrap: str, topic: str, timeout_s: float = 60) -> list[tuple[int, bytes | None, bytes]]:
    """Every record of a topic (partition, key, value), in offset order within each partition."""
    return [(r.partition, r.key, r.value) for r in read_records(bootstrap, topic, timeout_s)]


def dlq_headers_of(record: ConsumerRecord) -> dict[str, str]:
    """A DLQ record's `motcua.errors.*` headers, by short name."""
    return {k.removeprefix("motcua.errors."): v.decode() for k, v in record.headers}


def snapshot(**overrides: object) -> dict[str, object]:
    """A DongBoHoSoMC record of a returned online dossier, with personal data, as OpenCPS sends it."""
    record: dict[str, object] = {
        "MaHoSo": "000.00.01.H04-250702-0012",
        "MaTTHC": "2.000488",
        "TenTTHC": "Cấp phiếu lý lịch tư pháp",
        "MaLinhVuc": "LLTP",
        "KenhThucHien": "2",
        "ChuHoSo": "Nguyễn Văn An",
        "LoaiDoiTuong": "1",
        "SoGiayToChuHoSo": "004123456789",
        "Email": "an.nguyen@example.vn",
        "SoDienThoai": "0912345678",
        "DiaChiThuongTru": "12 Lê Lợi, Cao Bằng",
        "NgayNopHoSo": "20250702081500",
        "NgayTiepNhan": "20250702091500",
        "NgayHenTra": "20250716091500",
        "TrangThaiHoSo": "10",
        "NgayKetThucXuLy": "20250714160000",
        "NgayTra": "20250714163000",
        "DonViXuLy": "Sở Tư pháp",
        "HoSoCoThanhPhanSoHoa": "1",
        "DuocThanhToanTrucTuyen": "1",
        "TaiLieuNop": [{"TepDinhKemId": "a1", "DuocTaiSuDung": "0", "DuocLayTuKhoDMQG": "1"}],
        "DanhSachLePhi": [{"TenPhiLePhi": "Lệ phí", "Gia": "200000"}, {"TenPhiLePhi": "Phí", "Gia": 0}],
        "DanhSachHoSoBoSung": [{"NgayBoSung": "20250704100000", "NgayTiepNhanBoSung": "20250707083000"}],
        "DanhSachGiayToKetQua": [{"TenGiayTo": "Phiếu LLTP", "DuongDanTepTinKetQua": "https://x/kq.pdf"}],
        "DinhDanhCHS": [{"LoaiDinhDanh": "1", "SoDinhDanh": "004123456789"}],
    }
    record.update(overrides)
    return record
