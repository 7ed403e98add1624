//! The seal detector on crops of real scans from the dev corpus (../shared/corpus/dev): ring
//! text, a star and mottled ink over text, on a phone photo and a flat scan, at any angle; and no
//! seal where there is none.
use nightpermit_prereview::pages::{decode_image, find_seals};
use std::path::PathBuf;

fn corpus(file: &str) -> image::RgbImage {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/dev").join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (the dev corpus)", path.display()));
    decode_image(&bytes).expect("decodes")
}

fn crop(img: &image::RgbImage, x: u32, y: u32, w: u32, h: u32) -> image::RgbImage {
    image::imageops::crop_imm(img, x, y, w.min(img.width() - x), h.min(img.height() - y)).to_image()
}

/// The detector works at page scale (its grid follows the page's short side): a crop is laid
/// on white paper the size of the page it came from.
fn on_page(crop: &image::RgbImage, like: &image::RgbImage) -> image::RgbImage {
    let mut page = image::RgbImage::from_pixel(like.width(), like.height(), image::Rgb([255, 255, 255]));
    image::imageops::overlay(&mut page, crop, 100, 100);
    page
}

#[test]
fn seals_are_found_on_crops_at_any_angle_and_not_where_there_is_none() {
    for (file, (x, y, size)) in [
        // A flat 200 dpi scan: the seal over the signature line of a plan's last page.
        ("v02_templates_b_sans_200dpi/noise_plan.3.png", (1136u32, 296u32, 324u32)),
        // A JPEG scan: the seal stamped over text lower on the page.
        ("v07_jpeg_scans_iso_dates/noise_plan.3.jpg", (1136, 296, 324)),
        // A phone photo: uneven light, perspective, JPEG.
        ("v03_phone_photos_microhei/noise_plan.3.jpg", (1692, 432, 486)),
    ] {
        let page = corpus(file);
        let around = crop(&page, x.saturating_sub(200), y.saturating_sub(200), size + 400, size + 400);
        assert_eq!(find_seals(&on_page(&around, &page), 1).len(), 1, "{file}: the seal in a crop around it");
        for degrees in [17.0f32, 45.0, 90.0, 200.0] {
            let turned = imageproc::geometric_transformations::rotate_about_center(
                &around,
                degrees.to_radians(),
                imageproc::geometric_transformations::Interpolation::Bilinear,
                image::Rgb([255, 255, 255]),
            );
            assert_eq!(find_seals(&on_page(&turned, &page), 1).len(), 1, "{file}: turned {degrees}°");
        }
        // The same crop in grey: nothing red is left, so no seal can be claimed.
        let grey = image::DynamicImage::ImageRgb8(around.clone()).grayscale().to_rgb8();
        assert!(find_seals(&on_page(&grey, &page), 1).is_empty(), "{file}: a grey crop shows no red seal");
    }
    // A phone photo (uneven light, perspective, JPEG), whole: its one seal, and none in grey.
    let photo = corpus("v03_phone_photos_microhei/noise_plan.3.jpg");
    assert_eq!(find_seals(&photo, 1).len(), 1, "the seal on a phone photo");
    let grey = image::DynamicImage::ImageRgb8(photo).grayscale().to_rgb8();
    assert!(find_seals(&grey, 1).is_empty());
    // Text without a seal: the top of a licence.
    let licence = corpus("v02_templates_b_sans_200dpi/business_license.png");
    assert!(find_seals(&on_page(&crop(&licence, 0, 0, licence.width(), 700), &licence), 1).is_empty());
}
