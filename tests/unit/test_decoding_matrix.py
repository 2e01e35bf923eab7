"""Decoding that cannot silently corrupt (issue 19, item 6).

Real sentences in 17 languages, each written in the legacy encodings people really used for it
(Windows-125x, ISO-8859-x, KOI8, DOS and Mac code pages, Shift-JIS, EUC-JP, ISO-2022-JP, GB2312,
GB18030, Big5, EUC-KR, TIS-620), with capitals, digits and punctuation, as a paragraph, as its
first sentence alone and in capitals. Every cell either decodes to exactly the original text or
is skipped with a reason: never stored wrong. A decoder that skipped everything would pass that,
so the usual code page of every language must decode its paragraph.
"""

from __future__ import annotations

import re

import pytest

from milvus_toolkit.ingest.documents import BadFile, LoadedDocument, read_document

SENTENCES = {
    "ru": (
        "Вчера, 14 марта 2024 года, ООО «Ромашка» проверило робота R2-D2 на складе № 7. Аккумулятор держал за"
        "ряд 6,5 часа; Ёлкин сказал: «Это ЛУЧШИЙ результат!» Щербаков и Юлия Эдуардовна спросили: «Почему так"
        " долго?» Жорж ответил, что Царёв Фёдор Шарапов подготовит отчёт к пятнице."
    ),
    "uk": (
        "Учора, 3 квітня 2023 року, Інженери з Києва перевірили робота на складі № 12. Акумулятор тримав заря"
        "д 5 годин; Євген сказав: «Це НАЙКРАЩИЙ результат!» Їжак Ґудзик і Юрій Щербак підготують звіт до п'ят"
        "ниці, 7-го числа."
    ),
    "bg": (
        "Вчера, 21 май 2022 г., Инженерите от София провериха робота в склад № 3. Батерията издържа 4,5 часа;"
        " Щерев каза: „Това е НАЙ-ДОБРИЯТ резултат!“ Юлия и Жоро ще подготвят Доклад до петък, 10 часа."
    ),
    "el": (
        "Χθες, 5 Μαΐου 2021, οι Μηχανικοί της ΑΘΗΝΑΣ δοκίμασαν το ρομπότ στην αποθήκη Νο 9. Η μπαταρία κράτησ"
        "ε 6,5 ώρες· ο Γιώργος είπε: «Είναι το ΚΑΛΥΤΕΡΟ αποτέλεσμα!» Ψάχνουμε Ωραία Ξύλα για την Παρασκευή;"
    ),
    "pl": (
        "Wczoraj, 12 maja 2020 r., Łukasz Żółkiewski sprawdził robota w magazynie nr 4. Akumulator trzymał ła"
        "dunek 5,5 godziny; Ślązak powiedział: „To NAJLEPSZY wynik!” Źródłowy raport Ćwiczeń będzie gotowy w "
        "piątek o 15:30."
    ),
    "cs": (
        "Včera, 8. června 2019, Řehoř Šťastný zkontroloval robota ve skladu č. 2. Baterie vydržela 7,5 hodiny"
        "; Žofie řekla: „To je NEJLEPŠÍ výsledek!“ Čeněk a Ůlehla připraví Zprávu do pátku, 16:45."
    ),
    "de": (
        "Gestern, am 3. Oktober 2018, prüfte Jörg Müller den Roboter im Außenlager Nr. 5. Der Akku hielt 4,5 "
        "Stunden; Ärztin Özdemir sagte: „Das ist das BESTE Ergebnis!“ Übermorgen, um 9:15 Uhr, folgt der Beri"
        "cht für Straßburg."
    ),
    "fr": (
        "Hier, le 14 juillet 2017, Élodie Lefèvre a testé le robot dans l'entrepôt n° 6. La batterie a tenu 3"
        ",5 heures ; Ève a déclaré : « C'est le MEILLEUR résultat ! » À Noël, François et Ça-Va-Çà publieront"
        " le Rapport à 18 h."
    ),
    "tr": (
        "Dün, 29 Ekim 2016'da, İstanbul'daki Mühendisler robotu 8 numaralı depoda test etti. Batarya 6,5 saat"
        ' dayandı; Şükrü dedi ki: "Bu EN İYİ sonuç!" Çağla ve Ömer Güneş raporu Cuma günü saat 14:00\'te hazır'
        "layacak."
    ),
    "he": (
        "אתמול, 15 במרץ 2015, המהנדסים מתל אביב בדקו את הרובוט R2 במחסן מספר 3. הסוללה החזיקה 5.5 שעות; דוד א"
        'מר: "זו התוצאה הטובה ביותר!" הדוח יהיה מוכן ביום שישי בשעה 10:30.'
    ),
    "ar": (
        "أمس، في 10 يناير 2014، اختبر المهندسون من القاهرة الروبوت R2 في المستودع رقم 5. استمرت البطارية 4.5 "
        'ساعات؛ قال أحمد: "هذه أفضل نتيجة!" سيكون التقرير جاهزاً يوم الجمعة في الساعة 11:15.'
    ),
    "ja": (
        "昨日、2013年4月1日に、東京のエンジニアが倉庫7番でロボット「R2」を試験しました。バッテリーは6.5時間持"
        "ちました。田中さんは「これは最高の結果です！」と言いました。報告書は金曜日の15時までに準備されます。"
    ),
    "zh": (
        "昨天，2012年6月18日，北京的工程师在第3号仓库测试了机器人R2。电池坚持了5.5小时；王先生说：“这是最好的"
        "结果！”报告将在星期五下午4点前准备好。"
    ),
    "zh-tw": (
        "昨天，2011年9月9日，台北的工程師在第8號倉庫測試了機器人R2。電池堅持了4.5小時；陳先生說：「這是最好的"
        "結果！」報告將在星期五下午3點前準備好。"
    ),
    "ko": (
        "어제, 2010년 11월 11일, 서울의 엔지니어들이 창고 6번에서 로봇 R2를 시험했습니다. 배터리는 5.5시간 지"
        '속되었습니다. 김 씨는 "이것은 최고의 결과입니다!"라고 말했습니다. 보고서는 금요일 오후 2시까지 준비'
        "됩니다."
    ),
    "th": (
        "เมื่อวานนี้ วันที่ 2 กุมภาพันธ์ 2009 วิศวกรจากกรุงเทพฯ ได้ทดสอบหุ่นยนต์ R2 ในคลังสินค้าหมายเลข 4 แบต"
        'เตอรี่ใช้งานได้ 6.5 ชั่วโมง; สมชายกล่าวว่า "นี่คือผลลัพธ์ที่ดีที่สุด!" รายงานจะพร้อมในวันศุกร์ เวลา '
        "13:00 น."
    ),
    "lt": (
        "Vakar, 2008 m. rugsėjo 1 d., Šiaulių Inžinieriai išbandė robotą sandėlyje Nr. 5. Baterija veikė 6,5 "
        "valandos; Žydrūnas pasakė: „Tai GERIAUSIAS rezultatas!“ Ąžuolas ir Ėglė parengs Ataskaitą iki penkta"
        "dienio, 12:45."
    ),
}
ENCODINGS = {
    "ru": ["cp1251", "koi8_r", "iso8859_5", "cp866", "mac_cyrillic"],
    "uk": ["cp1251", "koi8_u"],
    "bg": ["cp1251"],
    "el": ["cp1253", "iso8859_7"],
    "pl": ["cp1250", "iso8859_2"],
    "cs": ["cp1250", "iso8859_2"],
    "de": ["cp1252", "iso8859_1", "iso8859_15"],
    "fr": ["cp1252", "iso8859_1", "iso8859_15"],
    "tr": ["cp1254", "iso8859_9"],
    "he": ["cp1255", "iso8859_8"],
    "ar": ["cp1256", "iso8859_6"],
    "ja": ["shift_jis", "euc_jp", "iso2022_jp"],
    "zh": ["gb2312", "gb18030"],
    "zh-tw": ["big5"],
    "ko": ["euc_kr", "cp949"],
    "th": ["cp874", "tis_620"],
    "lt": ["cp1257", "iso8859_13"],
}

# Typographic marks a code page lacks, written the way people did in it.
ASCII_FOR = {"«": '"', "»": '"', "„": '"', "“": '"', "”": '"', "‘": "'", "’": "'", "—": "-", "–": "-", "№": "No"}


def written_in(text: str, encoding: str) -> str | None:
    """``text`` as a writer using ``encoding`` would type it (plain quotes where the code page
    has no typographic ones), or None when the code page cannot hold the language at all."""
    for candidate in (text, "".join(ASCII_FOR.get(c, c) for c in text)):
        try:
            candidate.encode(encoding)
            return candidate
        except UnicodeEncodeError:
            continue
    return None


def variants(paragraph: str) -> dict[str, str]:
    return {
        "paragraph": paragraph,
        "sentence": re.split(r"(?<=[.;!?。！])\s*", paragraph)[0],
        "capitals": paragraph.upper(),
    }


CELLS = [
    pytest.param(text, encoding, id=f"{lang}-{encoding}-{variant}")
    for lang, encodings in ENCODINGS.items()
    for encoding in encodings
    for variant, original in variants(SENTENCES[lang]).items()
    if (text := written_in(original, encoding)) is not None
]


def decoded(text: str, encoding: str) -> LoadedDocument | BadFile:
    return read_document("legacy.txt", text.encode(encoding))


@pytest.mark.parametrize(("text", "encoding"), CELLS)
def test_every_cell_round_trips_exactly_or_is_skipped_with_a_reason(text, encoding):
    result = decoded(text, encoding)
    if isinstance(result, BadFile):
        assert result.reason.startswith("cannot be decoded"), result.reason
        assert len(result.reason) > len("cannot be decoded: "), "the reason says why"
    else:
        assert result.pages[0][1] == text, f"stored as {result.encoding}: {result.pages[0][1][:80]!r}"


@pytest.mark.parametrize("lang", list(ENCODINGS))
def test_the_usual_code_page_of_every_language_decodes_its_paragraph(lang):
    encoding = ENCODINGS[lang][0]
    text = written_in(SENTENCES[lang], encoding)
    result = decoded(text, encoding)
    assert isinstance(result, LoadedDocument), f"skipped: {getattr(result, 'reason', '')}"
    assert result.pages[0][1] == text


def test_a_windows_1251_text_is_not_read_as_mac_cyrillic():
    """Before: charset-normalizer ranked MacCyrillic first on this text. The two code pages agree
    on lowercase Cyrillic and differ on capitals: the file was stored as 'Ўарапов молчит.
    ўербаков ...' without a warning."""
    text = "Шарапов молчит. Щербаков проверил склад."
    result = decoded(text, "cp1251")
    assert isinstance(result, LoadedDocument) and result.pages[0][1] == text and result.encoding == "cp1251"


def test_readings_nothing_can_tell_apart_are_skipped_naming_the_candidates():
    """'Včera, 8.' is Czech in Windows-1250 and reads 'Vèera, 8.' in Windows-1252: both are
    plausible Latin text, so the file is skipped and the reason names both code pages."""
    result = decoded("Včera, 8.", "cp1250")
    assert isinstance(result, BadFile)
    assert "cp1250" in result.reason and "cp1252" in result.reason
