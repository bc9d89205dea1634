#include "utter/audio/resampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include "utter/audio/audio_error.h"

namespace utter::audio {
namespace {

std::vector<float> make_tone(double frequency, int rate, int channels, double seconds,
                             double amplitude) {
  const auto frames = static_cast<std::size_t>(seconds * rate);
  std::vector<float> samples(frames * static_cast<std::size_t>(channels));
  for (std::size_t i = 0; i < frames; ++i) {
    const double value = amplitude * std::sin(2.0 * std::numbers::pi * frequency * static_cast<double>(i) / rate);
    for (int c = 0; c < channels; ++c) samples[i * static_cast<std::size_t>(channels) + static_cast<std::size_t>(c)] = static_cast<float>(value);
  }
  return samples;
}

std::vector<float> resample_whole(const std::vector<float>& input, int rate, int channels,
                                  ResamplerQuality quality = ResamplerQuality::kMedium) {
  Resampler resampler(rate, channels, quality);
  std::vector<float> out;
  resampler.process(input, out);
  resampler.finish(out);
  return out;
}

struct ToneFit {
  double amplitude = 0.0;
  double residual_db = 0.0;  // energy of everything but the tone, relative to the tone
};

// Least-squares fit of a sine and cosine at exactly `frequency` over a window of whole periods,
// so the residual contains every other component (distortion, images, noise).
ToneFit fit_tone(const std::vector<float>& samples, std::size_t begin, std::size_t length,
                 double frequency, int rate) {
  double sin_sum = 0.0;
  double cos_sum = 0.0;
  for (std::size_t i = 0; i < length; ++i) {
    const double phase = 2.0 * std::numbers::pi * frequency * static_cast<double>(begin + i) / rate;
    sin_sum += samples[begin + i] * std::sin(phase);
    cos_sum += samples[begin + i] * std::cos(phase);
  }
  const double a = 2.0 * sin_sum / static_cast<double>(length);
  const double b = 2.0 * cos_sum / static_cast<double>(length);
  double residual_energy = 0.0;
  for (std::size_t i = 0; i < length; ++i) {
    const double phase = 2.0 * std::numbers::pi * frequency * static_cast<double>(begin + i) / rate;
    const double residual = samples[begin + i] - (a * std::sin(phase) + b * std::cos(phase));
    residual_energy += residual * residual;
  }
  ToneFit fit;
  fit.amplitude = std::hypot(a, b);
  const double tone_energy = fit.amplitude * fit.amplitude / 2.0 * static_cast<double>(length);
  fit.residual_db = 10.0 * std::log10(residual_energy / tone_energy);
  return fit;
}

double rms(const std::vector<float>& samples, std::size_t begin, std::size_t length) {
  double sum = 0.0;
  for (std::size_t i = begin; i < begin + length; ++i) sum += static_cast<double>(samples[i]) * samples[i];
  return std::sqrt(sum / static_cast<double>(length));
}

class ResamplerRate : public ::testing::TestWithParam<int> {};

TEST_P(ResamplerRate, KeepsOneKilohertzTone) {
  const int rate = GetParam();
  const double amplitude = 0.5;
  const std::vector<float> input = make_tone(1000.0, rate, 1, 2.0, amplitude);
  const std::vector<float> output = resample_whole(input, rate, 1);

  ASSERT_NEAR(static_cast<double>(output.size()), 32000.0, 2.0);
  // One second from the middle: 1000 whole periods, far from the start and end transients.
  const ToneFit fit = fit_tone(output, 8000, 16000, 1000.0, kModelSampleRate);
  const double gain_db = 20.0 * std::log10(fit.amplitude / amplitude);
  std::printf("rate %d: gain %.5f dB, residual %.1f dB\n", rate, gain_db, fit.residual_db);
  EXPECT_LT(std::fabs(gain_db), 0.1);
  EXPECT_LT(fit.residual_db, -80.0);
}

TEST_P(ResamplerRate, RemovesTenKilohertzTone) {
  const int rate = GetParam();
  const std::vector<float> input = make_tone(10000.0, rate, 1, 2.0, 0.5);
  const std::vector<float> output = resample_whole(input, rate, 1);

  ASSERT_GT(output.size(), 24000u);
  const double attenuation_db = 20.0 * std::log10(rms(output, 4000, 16000) / (0.5 / std::sqrt(2.0)));
  std::printf("rate %d: 10 kHz attenuated by %.1f dB\n", rate, -attenuation_db);
  EXPECT_LT(attenuation_db, -80.0);
}

TEST_P(ResamplerRate, RandomChunksMatchOneCall) {
  const int rate = GetParam();
  std::mt19937 generator(1234);
  std::normal_distribution<float> noise(0.0f, 0.1f);
  std::vector<float> input = make_tone(440.0, rate, 2, 3.0, 0.3);
  for (float& value : input) value += noise(generator);
  const std::vector<float> whole = resample_whole(input, rate, 2);

  for (int trial = 0; trial < 3; ++trial) {
    Resampler resampler(rate, 2);
    std::vector<float> chunked;
    std::uniform_int_distribution<std::size_t> chunk_frames(0, trial == 0 ? 7 : 5000);
    std::size_t offset = 0;
    while (offset < input.size()) {
      const std::size_t values = std::min(input.size() - offset, 2 * chunk_frames(generator));
      resampler.process(std::span<const float>(input.data() + offset, values), chunked);
      offset += values;
    }
    resampler.finish(chunked);
    ASSERT_EQ(chunked.size(), whole.size()) << "trial " << trial;
    for (std::size_t i = 0; i < whole.size(); ++i) {
      ASSERT_EQ(chunked[i], whole[i]) << "trial " << trial << ", sample " << i;
    }
  }
}

TEST_P(ResamplerRate, BestQualityKeepsTone) {
  const int rate = GetParam();
  const std::vector<float> output = resample_whole(make_tone(1000.0, rate, 1, 2.0, 0.5), rate, 1,
                                                   ResamplerQuality::kBest);
  const ToneFit fit = fit_tone(output, 8000, 16000, 1000.0, kModelSampleRate);
  EXPECT_LT(std::fabs(20.0 * std::log10(fit.amplitude / 0.5)), 0.1);
  EXPECT_LT(fit.residual_db, -80.0);
}

INSTANTIATE_TEST_SUITE_P(CommonRates, ResamplerRate, ::testing::Values(44100, 48000, 22050, 96000));

TEST(Resampler, UpsamplesFromEightKilohertz) {
  const std::vector<float> output = resample_whole(make_tone(1000.0, 8000, 1, 2.0, 0.5), 8000, 1);
  ASSERT_NEAR(static_cast<double>(output.size()), 32000.0, 2.0);
  const ToneFit fit = fit_tone(output, 8000, 16000, 1000.0, kModelSampleRate);
  EXPECT_LT(std::fabs(20.0 * std::log10(fit.amplitude / 0.5)), 0.1);
  EXPECT_LT(fit.residual_db, -80.0);
}

TEST(Resampler, StereoIsAveraged) {
  // Left is a tone, right is its negative: the average is silence.
  std::vector<float> input = make_tone(1000.0, 48000, 2, 0.5, 0.5);
  for (std::size_t i = 1; i < input.size(); i += 2) input[i] = -input[i];
  const std::vector<float> output = resample_whole(input, 48000, 2);
  ASSERT_FALSE(output.empty());
  EXPECT_EQ(rms(output, 0, output.size()), 0.0);
}

TEST(Resampler, DownmixAveragesChannels) {
  const std::vector<float> interleaved = {0.25f, 0.75f, 0.5f, -0.1f, 0.2f, 0.2f, -1.0f, 0.0f, 1.0f};
  std::vector<float> mono;
  downmix_to_mono(interleaved, 3, mono);
  ASSERT_EQ(mono.size(), 3u);
  EXPECT_FLOAT_EQ(mono[0], 0.5f);
  EXPECT_FLOAT_EQ(mono[1], 0.1f);
  EXPECT_FLOAT_EQ(mono[2], 0.0f);
}

TEST(Resampler, SixteenKilohertzPassesThrough) {
  const std::vector<float> input = {0.1f, -0.2f, 0.3f, 0.4f, -0.5f};
  const std::vector<float> output = resample_whole(input, 16000, 1);
  EXPECT_EQ(output, input);
}

TEST(Resampler, RejectsInvalidArguments) {
  EXPECT_THROW(Resampler(0, 1), AudioError);
  EXPECT_THROW(Resampler(48000, 0), AudioError);
  Resampler stereo(48000, 2);
  std::vector<float> out;
  const std::vector<float> odd = {0.1f, 0.2f, 0.3f};
  EXPECT_THROW(stereo.process(odd, out), AudioError);
}

}  // namespace
}  // namespace utter::audio
